using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace Capstan.Server.Data;

/// <summary>The one DbContext. Each provider has a subclass only so that it carries its own migrations.</summary>
public abstract class CapstanDbContext(DbContextOptions options) : DbContext(options)
{
    public DbSet<Account> Accounts => Set<Account>();
    public DbSet<ApiToken> ApiTokens => Set<ApiToken>();
    public DbSet<AppRow> Apps => Set<AppRow>();
    public DbSet<MeetingRow> Meetings => Set<MeetingRow>();
    public DbSet<ParticipantRow> Participants => Set<ParticipantRow>();
    public DbSet<SessionRow> Sessions => Set<SessionRow>();
    public DbSet<SessionPeerRow> SessionPeers => Set<SessionPeerRow>();
    public DbSet<RecordingRow> Recordings => Set<RecordingRow>();
    public DbSet<RecorderJobRow> RecorderJobs => Set<RecorderJobRow>();
    public DbSet<WebhookRow> Webhooks => Set<WebhookRow>();
    public DbSet<OutboxEventRow> OutboxEvents => Set<OutboxEventRow>();
    public DbSet<SigningKeyRow> SigningKeys => Set<SigningKeyRow>();
    public DbSet<MeetingRoomRow> MeetingRooms => Set<MeetingRoomRow>();
    public DbSet<JanusFeedRow> JanusFeeds => Set<JanusFeedRow>();
    public DbSet<WebhookDeliveryRow> WebhookDeliveries => Set<WebhookDeliveryRow>();
    public DbSet<WebhookAttemptRow> WebhookAttempts => Set<WebhookAttemptRow>();
    public DbSet<RecorderNodeRow> RecorderNodes => Set<RecorderNodeRow>();
    public DbSet<SessionBroadcastRow> SessionBroadcasts => Set<SessionBroadcastRow>();

    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder)
    {
        ArgumentNullException.ThrowIfNull(configurationBuilder);
        // Every timestamp is UTC; SQLite hands DateTime back as Unspecified, so mark it on the way out.
        configurationBuilder.Properties<DateTime>().HaveConversion<UtcDateTimeConverter>();
        configurationBuilder.Properties<DateTime?>().HaveConversion<UtcDateTimeConverter>();
    }

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        ArgumentNullException.ThrowIfNull(modelBuilder);

        modelBuilder.Entity<Account>(e =>
        {
            e.HasKey(x => x.Id);
            e.Property(x => x.Id).HasMaxLength(64);
        });

        modelBuilder.Entity<ApiToken>(e =>
        {
            e.HasKey(x => x.Id);
            e.Property(x => x.AccountId).HasMaxLength(64);
            e.Property(x => x.TokenHash).HasMaxLength(64);
            e.Property(x => x.Hint).HasMaxLength(16);
            e.HasIndex(x => x.TokenHash).IsUnique();
            e.HasOne<Account>().WithMany().HasForeignKey(x => x.AccountId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<AppRow>(e =>
        {
            e.ToTable("Apps");
            e.HasKey(x => x.Id);
            e.Property(x => x.AccountId).HasMaxLength(64);
            e.Property(x => x.Name).HasMaxLength(256);
            e.HasIndex(x => new { x.AccountId, x.CreatedAt });
            e.HasOne<Account>().WithMany().HasForeignKey(x => x.AccountId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<MeetingRow>(e =>
        {
            e.ToTable("Meetings");
            e.HasKey(x => x.Id);
            e.Property(x => x.Title).HasMaxLength(1024);
            e.Property(x => x.Status).HasMaxLength(16);
            e.HasIndex(x => new { x.AppId, x.CreatedAt });
            e.HasOne<AppRow>().WithMany().HasForeignKey(x => x.AppId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<ParticipantRow>(e =>
        {
            e.ToTable("Participants");
            e.HasKey(x => x.Id);
            e.Property(x => x.CustomParticipantId).HasMaxLength(256);
            e.Property(x => x.PresetName).HasMaxLength(64);
            e.Property(x => x.Name).HasMaxLength(256);
            e.Property(x => x.Picture).HasMaxLength(2048);
            e.HasIndex(x => new { x.MeetingId, x.CreatedAt });
            e.HasOne<MeetingRow>().WithMany().HasForeignKey(x => x.MeetingId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<SessionRow>(e =>
        {
            e.ToTable("Sessions");
            e.HasKey(x => x.Id);
            e.Property(x => x.Status).HasMaxLength(16);
            e.Property(x => x.MeetingTitle).HasMaxLength(1024);
            e.HasIndex(x => new { x.AppId, x.StartedAt });
            e.HasIndex(x => new { x.MeetingId, x.Status });
            // One live session per meeting, enforced by the database.
            e.HasIndex(x => x.MeetingId).IsUnique().HasFilter("\"Status\" = 'LIVE'").HasDatabaseName("IX_Sessions_OneLivePerMeeting");
            e.HasOne<MeetingRow>().WithMany().HasForeignKey(x => x.MeetingId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<SessionPeerRow>(e =>
        {
            e.ToTable("SessionPeers");
            e.HasKey(x => x.Id);
            e.Property(x => x.CustomParticipantId).HasMaxLength(256);
            e.Property(x => x.DisplayName).HasMaxLength(256);
            e.Property(x => x.PresetName).HasMaxLength(64);
            e.Property(x => x.LeaveReason).HasMaxLength(64);
            e.HasIndex(x => new { x.SessionId, x.JoinedAt });
            e.HasOne<SessionRow>().WithMany().HasForeignKey(x => x.SessionId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<RecordingRow>(e =>
        {
            e.ToTable("Recordings");
            e.HasKey(x => x.Id);
            e.Property(x => x.Type).HasMaxLength(16);
            e.Property(x => x.Status).HasMaxLength(16);
            e.Property(x => x.OutputFileName).HasMaxLength(512);
            e.Property(x => x.AudioFileName).HasMaxLength(512);
            e.Property(x => x.Sha256).HasMaxLength(64);
            e.Property(x => x.AudioSha256).HasMaxLength(64);
            // List orders: (InvokedTime, Id) within an app, optionally one status or one meeting.
            e.HasIndex(x => new { x.AppId, x.InvokedTime, x.Id });
            e.HasIndex(x => new { x.AppId, x.Status, x.InvokedTime, x.Id });
            e.HasIndex(x => new { x.MeetingId, x.InvokedTime, x.Id });
            // Two exclusive active recordings of one meeting cannot both exist (the meeting row's guard
            // covers the allow_multiple_recordings mix; this index is the database's own backstop).
            e.HasIndex(x => x.MeetingId).IsUnique()
                .HasFilter("\"Status\" IN ('INVOKED', 'RECORDING', 'PAUSED') AND \"AllowMultiple\" = FALSE AND \"Type\" = 'COMPOSITE'")
                .HasDatabaseName("IX_Recordings_OneExclusiveActivePerMeeting");
            // One active track recording per meeting: Janus records a room into one folder at a time.
            e.HasIndex(x => x.MeetingId).IsUnique()
                .HasFilter("\"Status\" IN ('INVOKED', 'RECORDING', 'PAUSED') AND \"Type\" = 'TRACK'")
                .HasDatabaseName("IX_Recordings_OneActiveTrackPerMeeting");
            e.HasOne<MeetingRow>().WithMany().HasForeignKey(x => x.MeetingId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<RecorderJobRow>(e =>
        {
            e.ToTable("RecorderJobs");
            e.HasKey(x => x.Id);
            e.Property(x => x.State).HasMaxLength(16);
            e.Property(x => x.DesiredState).HasMaxLength(16);
            e.Property(x => x.LeaseOwner).HasMaxLength(128);
            e.HasIndex(x => x.RecordingId).IsUnique();
            e.HasIndex(x => new { x.State, x.CreatedAt });
            e.HasOne<RecordingRow>().WithMany().HasForeignKey(x => x.RecordingId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<WebhookRow>(e =>
        {
            e.ToTable("Webhooks");
            e.HasKey(x => x.Id);
            e.Property(x => x.Name).HasMaxLength(256);
            e.Property(x => x.Url).HasMaxLength(2048);
            e.Property(x => x.Events).HasMaxLength(1024);
            e.HasIndex(x => new { x.AppId, x.CreatedAt });
            e.HasOne<AppRow>().WithMany().HasForeignKey(x => x.AppId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<OutboxEventRow>(e =>
        {
            e.ToTable("OutboxEvents");
            e.HasKey(x => x.Id);
            e.Property(x => x.EventName).HasMaxLength(64);
            e.HasIndex(x => x.EventId).IsUnique();
            e.HasIndex(x => new { x.DispatchedAt, x.Id });
        });

        modelBuilder.Entity<MeetingRoomRow>(e =>
        {
            e.ToTable("MeetingRooms");
            e.HasKey(x => x.MeetingId);
            e.Property(x => x.MeetingId).ValueGeneratedNever();
            e.Property(x => x.JanusUrl).HasMaxLength(512);
            e.Property(x => x.Pin).HasMaxLength(64);
            e.Property(x => x.Secret).HasMaxLength(64);
            e.HasIndex(x => x.RoomId).IsUnique();
            e.HasOne<MeetingRow>().WithMany().HasForeignKey(x => x.MeetingId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<JanusFeedRow>(e =>
        {
            e.ToTable("JanusFeeds");
            e.HasKey(x => x.FeedId);
            e.Property(x => x.FeedId).ValueGeneratedNever();
            e.HasIndex(x => new { x.RoomId, x.PeerId });
            e.HasIndex(x => x.CreatedAt);
            e.HasOne<MeetingRow>().WithMany().HasForeignKey(x => x.MeetingId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<WebhookDeliveryRow>(e =>
        {
            e.ToTable("WebhookDeliveries");
            e.HasKey(x => x.Id);
            e.Property(x => x.EventName).HasMaxLength(64);
            e.Property(x => x.Status).HasMaxLength(16);
            e.Property(x => x.LastError).HasMaxLength(1024);
            e.HasIndex(x => new { x.OutboxEventId, x.WebhookId }).IsUnique();
            e.HasIndex(x => new { x.Status, x.NextAttemptAt });
            e.HasIndex(x => new { x.WebhookId, x.CreatedAt });
            e.HasOne<WebhookRow>().WithMany().HasForeignKey(x => x.WebhookId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<SessionBroadcastRow>(e =>
        {
            e.ToTable("SessionBroadcasts");
            e.HasKey(x => x.Id);
            e.Property(x => x.Type).HasMaxLength(128);
            e.HasIndex(x => new { x.SessionId, x.ReceivedAt });
            e.HasOne<SessionRow>().WithMany().HasForeignKey(x => x.SessionId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<RecorderNodeRow>(e =>
        {
            e.ToTable("RecorderNodes");
            e.HasKey(x => x.Owner);
            e.Property(x => x.Owner).HasMaxLength(128);
            e.Property(x => x.Node).HasMaxLength(128);
        });

        modelBuilder.Entity<WebhookAttemptRow>(e =>
        {
            e.ToTable("WebhookAttempts");
            e.HasKey(x => x.Id);
            e.Property(x => x.Error).HasMaxLength(1024);
            e.HasIndex(x => new { x.DeliveryId, x.AttemptedAt });
            e.HasOne<WebhookDeliveryRow>().WithMany().HasForeignKey(x => x.DeliveryId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<SigningKeyRow>(e =>
        {
            e.ToTable("SigningKeys");
            e.HasKey(x => x.Kid);
            e.Property(x => x.Kid).HasMaxLength(64);
            e.Property(x => x.Purpose).HasMaxLength(32);
        });
    }

    private sealed class UtcDateTimeConverter : ValueConverter<DateTime, DateTime>
    {
        public UtcDateTimeConverter()
            : base(v => v.Kind == DateTimeKind.Utc ? v : v.ToUniversalTime(), v => DateTime.SpecifyKind(v, DateTimeKind.Utc))
        {
        }
    }
}

public sealed class SqliteCapstanDbContext(DbContextOptions<SqliteCapstanDbContext> options) : CapstanDbContext(options);

public sealed class PostgresCapstanDbContext(DbContextOptions<PostgresCapstanDbContext> options) : CapstanDbContext(options);
