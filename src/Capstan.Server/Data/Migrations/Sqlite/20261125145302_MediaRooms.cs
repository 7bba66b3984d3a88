using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Capstan.Server.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class MediaRooms : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "JanusFeeds",
                columns: table => new
                {
                    FeedId = table.Column<long>(type: "INTEGER", nullable: false),
                    MeetingId = table.Column<Guid>(type: "TEXT", nullable: false),
                    RoomId = table.Column<long>(type: "INTEGER", nullable: false),
                    ParticipantId = table.Column<Guid>(type: "TEXT", nullable: false),
                    Hidden = table.Column<bool>(type: "INTEGER", nullable: false),
                    PeerId = table.Column<Guid>(type: "TEXT", nullable: true),
                    CreatedAt = table.Column<DateTime>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_JanusFeeds", x => x.FeedId);
                    table.ForeignKey(
                        name: "FK_JanusFeeds_Meetings_MeetingId",
                        column: x => x.MeetingId,
                        principalTable: "Meetings",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "MeetingRooms",
                columns: table => new
                {
                    MeetingId = table.Column<Guid>(type: "TEXT", nullable: false),
                    RoomId = table.Column<long>(type: "INTEGER", nullable: false),
                    JanusUrl = table.Column<string>(type: "TEXT", maxLength: 512, nullable: false),
                    Pin = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    Secret = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    CreatedAt = table.Column<DateTime>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_MeetingRooms", x => x.MeetingId);
                    table.ForeignKey(
                        name: "FK_MeetingRooms_Meetings_MeetingId",
                        column: x => x.MeetingId,
                        principalTable: "Meetings",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_JanusFeeds_CreatedAt",
                table: "JanusFeeds",
                column: "CreatedAt");

            migrationBuilder.CreateIndex(
                name: "IX_JanusFeeds_MeetingId",
                table: "JanusFeeds",
                column: "MeetingId");

            migrationBuilder.CreateIndex(
                name: "IX_JanusFeeds_RoomId_PeerId",
                table: "JanusFeeds",
                columns: new[] { "RoomId", "PeerId" });

            migrationBuilder.CreateIndex(
                name: "IX_MeetingRooms_RoomId",
                table: "MeetingRooms",
                column: "RoomId",
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "JanusFeeds");

            migrationBuilder.DropTable(
                name: "MeetingRooms");
        }
    }
}
