using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Capstan.Server.Data.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class RecorderNodeCapacity : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "CostClassesJson",
                table: "RecorderNodes",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "CpuCores",
                table: "RecorderNodes",
                type: "double precision",
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "CpuUsed",
                table: "RecorderNodes",
                type: "double precision",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "MemoryBytes",
                table: "RecorderNodes",
                type: "bigint",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "MemoryUsedBytes",
                table: "RecorderNodes",
                type: "bigint",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "CostClassesJson",
                table: "RecorderNodes");

            migrationBuilder.DropColumn(
                name: "CpuCores",
                table: "RecorderNodes");

            migrationBuilder.DropColumn(
                name: "CpuUsed",
                table: "RecorderNodes");

            migrationBuilder.DropColumn(
                name: "MemoryBytes",
                table: "RecorderNodes");

            migrationBuilder.DropColumn(
                name: "MemoryUsedBytes",
                table: "RecorderNodes");
        }
    }
}
