using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Capstan.Contracts;
using Capstan.Server.Data;
using Capstan.Server.Domain;
using Microsoft.EntityFrameworkCore;

namespace Capstan.Server.Meetings;

/// <summary>A broadcast message to send (<c>POST .../meetings/{meeting_id}/broadcast</c>, or the page's
/// <c>broadcastMessage(type, payload)</c>): a type (e.g. <c>ID3Data</c>, <c>CLOSE_TRANSPORT</c>) and any JSON payload.</summary>
public sealed class BroadcastRequest
{
    public string? Type { get; set; }

    public JsonElement? Payload { get; set; }
}

/// <summary>The page's send: its token, the id it listens under (so that its own message is not echoed to it), the message.</summary>
public sealed class PageBroadcastRequest
{
    public string? AuthToken { get; set; }

    public string? ClientId { get; set; }

    public string? Type { get; set; }

    public JsonElement? Payload { get; set; }
}

/// <summary>A broadcast message as delivered to the pages and returned to its sender: <c>received_at</c> is the
/// server's time of receipt (an interactive recording places <c>ID3Data</c> on its timeline by it);
/// <c>participant_id</c>/<c>peer_id</c> are the sender's (null when sent through the REST API).</summary>
public sealed record BroadcastDto(string Id, string SessionId, string Type, JsonElement Payload, string? ParticipantId, string? PeerId, DateTime ReceivedAt);

/// <summary>A message on its way to the listening pages of a meeting, with the page that sent it (not echoed to it).</summary>
public sealed record BroadcastEvent(BroadcastDto Message, string? FromClient);

/// <summary>The pages listening to a meeting's broadcasts (<c>/meeting-api/broadcasts</c>, server-sent events), in
/// this server process. Each listener has a bounded queue (a page that stops reading loses the oldest messages
/// rather than growing the server's memory). Messages are kept in the database as well (<c>SessionBroadcasts</c>);
/// this hub only carries them to the pages connected now (a server with several API processes delivers to the
/// pages connected to the process that received the message).</summary>
public sealed class BroadcastHub
{
    private const int QueueLength = 256;
    private readonly ConcurrentDictionary<Guid, ConcurrentDictionary<Guid, (string? ClientId, Channel<BroadcastEvent> Queue)>> _listeners = new();

    /// <summary>Starts listening to <paramref name="meetingId"/>'s broadcasts; dispose the subscription to stop.</summary>
    public Subscription Subscribe(Guid meetingId, string? clientId)
    {
        var queue = Channel.CreateBounded<BroadcastEvent>(new BoundedChannelOptions(QueueLength) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
        var id = Guid.NewGuid();
        _listeners.GetOrAdd(meetingId, _ => new())[id] = (clientId, queue);
        return new Subscription(queue.Reader, () =>
        {
            if (_listeners.TryGetValue(meetingId, out var set))
            {
                set.TryRemove(id, out _);
            }
        });
    }

    /// <summary>How many pages listen to the meeting now.</summary>
    public int Listeners(Guid meetingId) => _listeners.TryGetValue(meetingId, out var set) ? set.Count : 0;

    /// <summary>Hands the message to every listener of the meeting but the page that sent it.</summary>
    public void Publish(Guid meetingId, BroadcastEvent ev)
    {
        ArgumentNullException.ThrowIfNull(ev);
        if (!_listeners.TryGetValue(meetingId, out var set))
        {
            return;
        }
        foreach (var (_, (client, queue)) in set)
        {
            if (ev.FromClient is null || client != ev.FromClient)
            {
                queue.Writer.TryWrite(ev);
            }
        }
    }

    public sealed class Subscription(ChannelReader<BroadcastEvent> reader, Action stop) : IDisposable
    {
        public ChannelReader<BroadcastEvent> Reader { get; } = reader;

        public void Dispose() => stop();
    }
}

/// <summary>Broadcast messages of a meeting's live session: checked (type, payload size), kept with the session
/// (<see cref="SessionBroadcastRow"/>, with the server's time of receipt) and handed to the listening pages
/// (<see cref="BroadcastHub"/>).</summary>
public sealed class BroadcastService(CapstanDbContext db, BroadcastHub hub, TimeProvider time)
{
    /// <summary>The largest payload, serialized as compact JSON (UTF-8): 16 KiB. An ID3 tag carries it whole in an
    /// interactive recording, and every page receives it; larger payloads are 413.</summary>
    public const int MaxPayloadBytes = 16 * 1024;

    /// <summary>Compact JSON without HTML escaping (the payload is data for pages and ID3 tags, never HTML): what is
    /// kept, counted toward the limit and carried by a tag.</summary>
    private static readonly JsonSerializerOptions CompactJson = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The longest type (the column's length).</summary>
    public const int MaxTypeLength = 128;

    /// <summary>The message type that carries an interactive recording's timed metadata.</summary>
    public const string Id3Data = "ID3Data";

    /// <summary>The message type that ends an interactive recording's metadata stream.</summary>
    public const string CloseTransport = "CLOSE_TRANSPORT";

    /// <summary>Checks, keeps and delivers one message. 400: no type, a type longer than 128 characters, or no
    /// payload; 413: a payload over <see cref="MaxPayloadBytes"/>; 404: the meeting has no live session.</summary>
    public async Task<BroadcastDto> SendAsync(Guid appId, Guid meetingId, string? type, JsonElement? payload, Guid? participantId, string? fromClient, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(type))
        {
            throw CapstanException.Invalid("type is required (e.g. \"ID3Data\")");
        }
        if (type.Length > MaxTypeLength)
        {
            throw CapstanException.Invalid($"type is longer than {MaxTypeLength} characters");
        }
        if (payload is not { } p || p.ValueKind == JsonValueKind.Undefined)
        {
            throw CapstanException.Invalid("payload is required (any JSON value)");
        }
        var json = JsonSerializer.Serialize(p, CompactJson);
        var bytes = Encoding.UTF8.GetByteCount(json);
        if (bytes > MaxPayloadBytes)
        {
            throw new CapstanException(ErrorCategory.PayloadTooLarge, "payload_too_large",
                $"payload is {bytes} bytes serialized; at most {MaxPayloadBytes} bytes (16 KiB) are allowed");
        }
        var session = await db.Sessions.AsNoTracking().FirstOrDefaultAsync(s => s.AppId == appId && s.MeetingId == meetingId && s.Status == SessionService.Live, ct)
            ?? throw CapstanException.NotFound($"No active session found for meeting_id {meetingId}: broadcast messages are sent in a live session");
        Guid? peerId = null;
        if (participantId is { } pid)
        {
            peerId = await db.SessionPeers.AsNoTracking().Where(x => x.SessionId == session.Id && x.ParticipantId == pid && x.LeftAt == null)
                .OrderByDescending(x => x.JoinedAt).Select(x => (Guid?)x.Id).FirstOrDefaultAsync(ct);
        }
        var row = new SessionBroadcastRow
        {
            Id = Guid.NewGuid(), SessionId = session.Id, MeetingId = meetingId, AppId = appId, PeerId = peerId,
            Type = type, PayloadJson = json, ReceivedAt = time.GetUtcNow().UtcDateTime,
        };
        db.SessionBroadcasts.Add(row);
        await db.SaveChangesAsync(ct);
        var dto = ToDto(row, participantId);
        hub.Publish(meetingId, new BroadcastEvent(dto, fromClient));
        return dto;
    }

    public static BroadcastDto ToDto(SessionBroadcastRow row, Guid? participantId)
    {
        ArgumentNullException.ThrowIfNull(row);
        using var doc = JsonDocument.Parse(row.PayloadJson);
        return new BroadcastDto(Ids.Format(row.Id), Ids.Format(row.SessionId), row.Type, doc.RootElement.Clone(),
            participantId is { } p ? Ids.Format(p) : null, row.PeerId is { } peer ? Ids.Format(peer) : null, row.ReceivedAt);
    }
}
