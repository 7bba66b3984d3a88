using Capstan.Server.Data;
using Capstan.Server.Domain;
using Microsoft.EntityFrameworkCore;

namespace Capstan.Server.Tests.Infrastructure;

/// <summary>Writes presence through the domain layer, as the media layer does when Janus reports joins.</summary>
public static class Presence
{
    public static async Task<(Guid SessionId, Guid PeerId, Guid ParticipantId)> JoinAsync(ServerFixture server, TestAccount account, Guid meetingId, string customId, string preset = Presets.Participant, bool hidden = false)
    {
        await using var scope = server.Services.CreateAsyncScope();
        var meetings = scope.ServiceProvider.GetRequiredService<MeetingService>();
        var sessions = scope.ServiceProvider.GetRequiredService<SessionService>();
        var ct = TestContext.Current.CancellationToken;
        var (participant, _) = await meetings.AddParticipantAsync(account.AppId, meetingId, new Capstan.Contracts.AddParticipantRequest { CustomParticipantId = customId, PresetName = preset, Name = customId.ToUpperInvariant() }, ct);
        var meeting = await meetings.FindAsync(account.AppId, meetingId, tracking: false, ct);
        var joined = await sessions.JoinAsync(meeting, participant, hidden, ct);
        return (joined.Session!.Id, joined.Peer!.Id, participant.Id);
    }

    public static async Task LeaveAsync(ServerFixture server, Guid peerId)
    {
        await using var scope = server.Services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<SessionService>().LeaveAsync(peerId, "LEFT", TestContext.Current.CancellationToken);
    }

    public static async Task<T> WithDbAsync<T>(ServerFixture server, Func<CapstanDbContext, Task<T>> f)
    {
        await using var scope = server.Services.CreateAsyncScope();
        return await f(scope.ServiceProvider.GetRequiredService<CapstanDbContext>());
    }

    public static Task<int> CountOutboxAsync(ServerFixture server, string eventName, string contains) =>
        WithDbAsync(server, db => db.OutboxEvents.CountAsync(e => e.EventName == eventName && e.PayloadJson.Contains(contains), TestContext.Current.CancellationToken));
}
