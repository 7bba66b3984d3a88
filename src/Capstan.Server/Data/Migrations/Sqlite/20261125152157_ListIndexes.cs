using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Capstan.Server.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class ListIndexes : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_Recordings_AppId_InvokedTime",
                table: "Recordings");

            migrationBuilder.DropIndex(
                name: "IX_Recordings_AppId_Status_InvokedTime",
                table: "Recordings");

            migrationBuilder.DropIndex(
                name: "IX_Recordings_MeetingId_InvokedTime",
                table: "Recordings");

            migrationBuilder.CreateIndex(
                name: "IX_Recordings_AppId_InvokedTime_Id",
                table: "Recordings",
                columns: new[] { "AppId", "InvokedTime", "Id" });

            migrationBuilder.CreateIndex(
                name: "IX_Recordings_AppId_Status_InvokedTime_Id",
                table: "Recordings",
                columns: new[] { "AppId", "Status", "InvokedTime", "Id" });

            migrationBuilder.CreateIndex(
                name: "IX_Recordings_MeetingId_InvokedTime_Id",
                table: "Recordings",
                columns: new[] { "MeetingId", "InvokedTime", "Id" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_Recordings_AppId_InvokedTime_Id",
                table: "Recordings");

            migrationBuilder.DropIndex(
                name: "IX_Recordings_AppId_Status_InvokedTime_Id",
                table: "Recordings");

            migrationBuilder.DropIndex(
                name: "IX_Recordings_MeetingId_InvokedTime_Id",
                table: "Recordings");

            migrationBuilder.CreateIndex(
                name: "IX_Recordings_AppId_InvokedTime",
                table: "Recordings",
                columns: new[] { "AppId", "InvokedTime" });

            migrationBuilder.CreateIndex(
                name: "IX_Recordings_AppId_Status_InvokedTime",
                table: "Recordings",
                columns: new[] { "AppId", "Status", "InvokedTime" });

            migrationBuilder.CreateIndex(
                name: "IX_Recordings_MeetingId_InvokedTime",
                table: "Recordings",
                columns: new[] { "MeetingId", "InvokedTime" });
        }
    }
}
