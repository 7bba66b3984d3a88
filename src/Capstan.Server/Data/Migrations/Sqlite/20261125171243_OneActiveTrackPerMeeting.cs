using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Capstan.Server.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class OneActiveTrackPerMeeting : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_Recordings_OneExclusiveActivePerMeeting",
                table: "Recordings");

            migrationBuilder.CreateIndex(
                name: "IX_Recordings_OneActiveTrackPerMeeting",
                table: "Recordings",
                column: "MeetingId",
                unique: true,
                filter: "\"Status\" IN ('INVOKED', 'RECORDING', 'PAUSED') AND \"Type\" = 'TRACK'");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_Recordings_OneActiveTrackPerMeeting",
                table: "Recordings");

            migrationBuilder.CreateIndex(
                name: "IX_Recordings_OneExclusiveActivePerMeeting",
                table: "Recordings",
                column: "MeetingId",
                unique: true,
                filter: "\"Status\" IN ('INVOKED', 'RECORDING', 'PAUSED') AND \"AllowMultiple\" = FALSE AND \"Type\" = 'COMPOSITE'");
        }
    }
}
