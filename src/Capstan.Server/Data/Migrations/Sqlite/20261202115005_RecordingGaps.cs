using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Capstan.Server.Data.Migrations.Sqlite
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
                type: "TEXT",
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
