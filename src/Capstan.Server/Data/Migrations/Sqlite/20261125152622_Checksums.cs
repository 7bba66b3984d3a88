using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Capstan.Server.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class Checksums : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "AudioSha256",
                table: "Recordings",
                type: "TEXT",
                maxLength: 64,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "Sha256",
                table: "Recordings",
                type: "TEXT",
                maxLength: 64,
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "AudioSha256",
                table: "Recordings");

            migrationBuilder.DropColumn(
                name: "Sha256",
                table: "Recordings");
        }
    }
}
