using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Capstan.Server.Data.Migrations.Postgres
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
                type: "timestamp with time zone",
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
