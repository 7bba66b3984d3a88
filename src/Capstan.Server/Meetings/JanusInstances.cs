namespace Capstan.Server.Meetings;

/// <summary>The Janus instances rooms can be placed on: the supervised local one when it is up, or the
/// configured external ones. Rooms go to the instance with the fewest rooms of this server.</summary>
public sealed class JanusInstances
{
    private readonly Lock _gate = new();
    private readonly List<JanusInstance> _instances = [];
    private TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public IReadOnlyList<JanusInstance> All
    {
        get
        {
            lock (_gate)
            {
                return [.. _instances];
            }
        }
    }

    /// <summary>Waits up to <paramref name="timeout"/> for at least one instance.</summary>
    public async Task<IReadOnlyList<JanusInstance>> WaitAsync(TimeSpan timeout, CancellationToken ct)
    {
        Task ready;
        lock (_gate)
        {
            ready = _ready.Task;
        }
        await Task.WhenAny(ready, Task.Delay(timeout, ct));
        return All;
    }

    public JanusInstance? Find(string url) => All.FirstOrDefault(i => i.Client.BaseUrl.ToString().TrimEnd('/') == url.TrimEnd('/'));

    public void Set(IEnumerable<JanusInstance> instances)
    {
        lock (_gate)
        {
            _instances.Clear();
            _instances.AddRange(instances);
            if (_instances.Count > 0)
            {
                _ready.TrySetResult();
            }
            else if (_ready.Task.IsCompleted)
            {
                _ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }
    }
}

/// <summary>One Janus: its client, the password its event handler uses, the URL browsers reach it at (the
/// server's own <c>/janus</c> proxy for the local instance), and a generation that changes on restart.</summary>
public sealed record JanusInstance(JanusClient Client, string EventsPassword, string BrowserPath, int Generation);
