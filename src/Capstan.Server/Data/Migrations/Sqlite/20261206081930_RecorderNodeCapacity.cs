using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Capstan.Server.Data.Migrations.Sqlite
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
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "CpuCores",
                table: "RecorderNodes",
                type: "REAL",
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "CpuUsed",
                table: "RecorderNodes",
                type: "REAL",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "MemoryBytes",
                table: "RecorderNodes",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "MemoryUsedBytes",
                table: "RecorderNodes",
                type: "INTEGER",
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
