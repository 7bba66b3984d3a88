// Capstan runs on Linux: it supervises Janus, Xvfb, PulseAudio, Chromium and ffmpeg from Debian.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
