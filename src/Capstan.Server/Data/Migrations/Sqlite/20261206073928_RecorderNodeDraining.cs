using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Capstan.Server.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class RecorderNodeDraining : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<DateTime>(
                name: "DrainingSince",
                table: "RecorderNodes",
                type: "TEXT",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "DrainingSince",
                table: "RecorderNodes");
        }
    }
}
