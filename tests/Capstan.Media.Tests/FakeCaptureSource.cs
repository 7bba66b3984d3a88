namespace Capstan.Media.Tests;

/// <summary>The flash+beep source as a participant's fake camera and microphone, in a folder of its own: the files
/// (<see cref="AvSync.WriteFakeCaptureAsync"/>), a Chromium wrapper that runs the participants' browser a little ahead
/// of the rest (nice -10: <see cref="FakeCaptureFixture"/> says why) and the flags that point its fake capture at the
/// files. Dispose deletes the folder.</summary>
public sealed class FakeCaptureSource : IDisposable
{
    private FakeCaptureSource(string folder) => Folder = folder;

    public string Folder { get; }

    public string Video => Path.Combine(Folder, "flash.y4m");

    public string Audio => Path.Combine(Folder, "beep.wav");

    /// <summary>The participants' Chromium, niced.</summary>
    public string Executable => Path.Combine(Folder, "chromium");

    public IReadOnlyList<string> BrowserArgs => [$"--use-file-for-fake-video-capture={Video}", $"--use-file-for-fake-audio-capture={Audio}"];

    public static async Task<FakeCaptureSource> CreateAsync(string prefix)
    {
        var source = new FakeCaptureSource(Path.Combine(Path.GetTempPath(), prefix + Guid.NewGuid().ToString("N")));
        Directory.CreateDirectory(source.Folder);
        await AvSync.WriteFakeCaptureAsync(source.Video, source.Audio);
        await File.WriteAllTextAsync(source.Executable, "#!/bin/sh\nexec nice -n -10 /usr/bin/chromium \"$@\"\n");
        File.SetUnixFileMode(source.Executable, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return source;
    }

    public void Dispose()
    {
        if (Directory.Exists(Folder))
        {
            Directory.Delete(Folder, recursive: true);
        }
    }
}
