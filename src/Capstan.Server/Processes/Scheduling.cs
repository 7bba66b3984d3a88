using System.Globalization;
using System.Runtime.InteropServices;

namespace Capstan.Server.Processes;

/// <summary>Scheduling priorities Capstan gives a child's threads from outside (it needs <c>CAP_SYS_NICE</c>: Capstan
/// running as root). Used for the recorder's sound server when it runs as an unprivileged user
/// (<see cref="Recorder.PulseServer"/>): PulseAudio started as root raises itself (its main thread to nice -11, its
/// sink and source threads to <c>SCHED_RR</c> 5); as another user it first resets whatever it inherited and then
/// cannot raise itself (no rtkit here, and raising its <c>RLIMIT_NICE</c>/<c>RLIMIT_RTPRIO</c> needs
/// <c>CAP_SYS_RESOURCE</c>, which a container may not grant). Without those priorities the capture's audio clock
/// (the sink's monitor) stalled behind busy cores and the sound of a recording ran 0.2 s ahead of its picture.</summary>
public static partial class Scheduling
{
    private const int PrioProcess = 0;
    private const int SchedRoundRobin = 2;

    /// <summary>What PulseAudio does to itself as root, done to process <paramref name="pid"/>: its main thread at nice
    /// <paramref name="nice"/>, every other thread (present now) at <c>SCHED_RR</c> <paramref name="realtimePriority"/>.
    /// Threads already real-time are left alone. Returns the threads it could not change (empty when all went
    /// well); a thread that ended meanwhile is not an error.</summary>
    public static IReadOnlyList<string> RaiseLikePulseAudio(int pid, int nice = -11, int realtimePriority = 5)
    {
        var failed = new List<string>();
        string[] tasks;
        try
        {
            tasks = Directory.GetDirectories($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/task");
        }
        catch (DirectoryNotFoundException)
        {
            return failed;
        }
        foreach (var dir in tasks)
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.Integer, CultureInfo.InvariantCulture, out var tid))
            {
                continue;
            }
            if (tid == pid)
            {
                if (SetPriority(PrioProcess, (uint)tid, nice) != 0)
                {
                    Fail(failed, tid, "setpriority");
                }
                continue;
            }
            if (GetScheduler(tid) == SchedRoundRobin)
            {
                continue;
            }
            var param = new SchedParam { Priority = realtimePriority };
            if (SetScheduler(tid, SchedRoundRobin, ref param) != 0)
            {
                Fail(failed, tid, "sched_setscheduler");
            }
        }
        return failed;
    }

    private static void Fail(List<string> failed, int tid, string call)
    {
        var errno = Marshal.GetLastPInvokeError();
        const int NoSuchProcess = 3;
        if (errno != NoSuchProcess)
        {
            failed.Add($"{call}({tid.ToString(CultureInfo.InvariantCulture)}): errno {errno.ToString(CultureInfo.InvariantCulture)}");
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct SchedParam
    {
        public int Priority;
    }

    [LibraryImport("libc", EntryPoint = "setpriority", SetLastError = true)]
    private static partial int SetPriority(int which, uint who, int prio);

    [LibraryImport("libc", EntryPoint = "sched_getscheduler", SetLastError = true)]
    private static partial int GetScheduler(int pid);

    [LibraryImport("libc", EntryPoint = "sched_setscheduler", SetLastError = true)]
    private static partial int SetScheduler(int pid, int policy, ref SchedParam param);
}
