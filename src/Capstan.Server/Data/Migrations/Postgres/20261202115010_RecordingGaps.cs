using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Capstan.Server.Data.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class RecordingGaps : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "GapsJson",
                table: "Recordings",
                type: "text",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "GapsJson",
                table: "Recordings");
        }
    }
}
