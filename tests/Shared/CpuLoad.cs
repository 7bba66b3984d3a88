using System.Diagnostics;

namespace Capstan.Testing;

/// <summary>Keeps every core busy with plain CPU loops (one <c>sh</c> busy loop per core, at normal priority) until
/// disposed; disposing kills them, so a failing test leaves none behind. For the media tests and benchmarks that
/// must hold "with both cores kept busy".</summary>
public sealed class CpuLoad : IDisposable
{
    private readonly List<Process> _loops = [];

    public CpuLoad(int? processes = null)
    {
        for (var i = 0; i < (processes ?? Environment.ProcessorCount); i++)
        {
            var psi = new ProcessStartInfo("sh") { RedirectStandardInput = true };
            psi.ArgumentList.Add("-c");
            psi.ArgumentList.Add("while :; do :; done");
            _loops.Add(Process.Start(psi)!);
        }
    }

    public IReadOnlyList<int> Pids => _loops.Select(p => p.Id).ToList();

    public void Dispose()
    {
        foreach (var p in _loops)
        {
            try
            {
                p.Kill(entireProcessTree: true);
                p.WaitForExit(5000);
            }
            catch (InvalidOperationException)
            {
                // already gone
            }
            p.Dispose();
        }
        _loops.Clear();
    }
}
