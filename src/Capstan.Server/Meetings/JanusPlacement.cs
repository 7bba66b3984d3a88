namespace Capstan.Server.Meetings;

/// <summary>How loaded one Janus instance is, from the database every node shares: the rooms placed on it
/// (<c>MeetingRooms.JanusUrl</c>) and the participants connected to those rooms now (session peers not left, in live
/// sessions of those rooms' meetings).</summary>
public readonly record struct JanusLoad(int Rooms, int Participants)
{
    /// <summary>What a room costs beside its participants: an empty room costs Janus almost nothing, but a room is
    /// where participants will come (a meeting is created for people to join it), so it counts as two of them. Two
    /// instances with the same participants then split new rooms evenly, and an instance with many rooms that
    /// are still empty does not take every new one.</summary>
    public const int RoomWeight = 2;

    /// <summary>The load placement compares: <c>participants + 2 × rooms</c>.</summary>
    public int Score => Participants + (RoomWeight * Rooms);
}

/// <summary>Where a new meeting's room goes: the least loaded instance first (<see cref="JanusLoad.Score"/>), ties
/// broken by the instances' own order (the configured <c>Janus:Urls</c> order), so every node given the same counts
/// picks the same instance. Pure, so the choice is tested without Janus; <see cref="RoomService"/> reads the counts
/// and tries the instances in this order, skipping one that does not answer.</summary>
public static class JanusPlacement
{
    /// <summary>The instances in the order to try them. <paramref name="loads"/> is keyed by
    /// <see cref="Key"/>; an instance missing from it has no rooms and no participants.</summary>
    public static IReadOnlyList<JanusInstance> Order(IReadOnlyList<JanusInstance> instances, IReadOnlyDictionary<string, JanusLoad> loads)
    {
        ArgumentNullException.ThrowIfNull(instances);
        ArgumentNullException.ThrowIfNull(loads);
        // OrderBy is a stable sort: equal scores keep the instances' order.
        return [.. instances.OrderBy(i => loads.TryGetValue(Key(i.Client.BaseUrl.ToString()), out var l) ? l.Score : 0)];
    }

    /// <summary>The form a Janus URL is compared in (a trailing slash or not, as <see cref="JanusInstances.Find"/>).</summary>
    public static string Key(string url)
    {
        ArgumentNullException.ThrowIfNull(url);
        return url.TrimEnd('/');
    }
}
