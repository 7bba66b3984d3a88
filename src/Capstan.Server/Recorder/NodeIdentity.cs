namespace Capstan.Server.Recorder;

/// <summary>Who a recorder worker is, as the owner of its job leases: kept in <c>{WorkDir}/node-id</c>, so a worker
/// that is killed and started again on the same work folder is the same owner and takes its recordings back at once
/// instead of waiting for their leases to run out. The file is held locked (<c>node.lock</c>, released by the kernel
/// when the process dies) while the worker runs: a second live process on the same folder gets an identity of its
/// own for its lifetime, so two processes never share one.</summary>
public sealed class NodeIdentity : IDisposable
{
    private static readonly Lock Gate = new();
    private readonly FileStream? _lock;

    private NodeIdentity(string owner, FileStream? held)
    {
        Owner = owner;
        _lock = held;
    }

    /// <summary>The lease owner name (at most 120 characters).</summary>
    public string Owner { get; }

    /// <summary>True when this process holds the folder's identity (and so may take back the folder's recordings).</summary>
    public bool Stable => _lock is not null;

    /// <summary>The identity of <paramref name="workDir"/>, for the role <paramref name="role"/> (<c>composite</c>,
    /// <c>track</c>: each has its own lock and jobs).</summary>
    public static NodeIdentity Acquire(string workDir, string role)
    {
        Directory.CreateDirectory(workDir);
        FileStream held;
        try
        {
            held = new FileStream(Path.Combine(workDir, $"node-{role}.lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            return new NodeIdentity(Trim($"{Environment.MachineName}:{Environment.ProcessId}:{role}:{Guid.NewGuid():N}"), null);
        }
        var file = Path.Combine(workDir, "node-id");
        string id;
        lock (Gate)
        {
            if (!File.Exists(file) || string.IsNullOrWhiteSpace(File.ReadAllText(file)))
            {
                // Written whole, then moved into place: a reader never sees half an identity.
                var tmp = file + "." + Guid.NewGuid().ToString("N");
                File.WriteAllText(tmp, Guid.NewGuid().ToString("N"));
                File.Move(tmp, file, overwrite: true);
            }
            id = File.ReadAllText(file).Trim();
        }
        return new NodeIdentity(Trim($"{Environment.MachineName}:{role}:{id}"), held);
    }

    private static string Trim(string owner) => owner.Length > 120 ? owner[^120..] : owner;

    public void Dispose() => _lock?.Dispose();
}
