using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Capstan.Media.Tests;

/// <summary>A tiny HTTP server on 127.0.0.1 for test pages and images; remembers every request URL.</summary>
public sealed class StaticServer : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Dictionary<string, (byte[] Body, string Type)> _files = [];
    private readonly Task _loop;

    public StaticServer()
    {
        Port = FreePort();
        _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    public int Port { get; }

    public List<Uri> Requests { get; } = [];

    public string Url(string path) => $"http://127.0.0.1:{Port}/{path}";

    public void Add(string path, byte[] body, string type) => _files[path] = (body, type);

    public void Add(string path, string body, string type) => Add(path, Encoding.UTF8.GetBytes(body), type);

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext c;
            try
            {
                c = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
            {
                return;
            }
            lock (Requests)
            {
                Requests.Add(c.Request.Url!);
            }
            var path = c.Request.Url!.AbsolutePath.TrimStart('/');
            if (_files.TryGetValue(path, out var f))
            {
                c.Response.ContentType = f.Type;
                await c.Response.OutputStream.WriteAsync(f.Body);
            }
            else
            {
                c.Response.StatusCode = 404;
            }
            c.Response.Close();
        }
    }

    public static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        _loop.Wait(TimeSpan.FromSeconds(2));
    }
}

/// <summary>nginx from Debian with libnginx-mod-rtmp, in the foreground with a private config on 127.0.0.1.</summary>
public sealed class RtmpServer : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "capstan-rtmp-" + Guid.NewGuid().ToString("N"));
    private readonly Process _nginx;

    public RtmpServer()
    {
        Port = StaticServer.FreePort();
        var http = StaticServer.FreePort();
        Directory.CreateDirectory(Path.Combine(_dir, "logs"));
        Directory.CreateDirectory(Path.Combine(_dir, "tmp"));
        var conf = Path.Combine(_dir, "nginx.conf");
        File.WriteAllText(conf, $$"""
            load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;
            worker_processes 1;
            pid {{_dir}}/nginx.pid;
            error_log {{_dir}}/logs/error.log info;
            events { worker_connections 64; }
            rtmp {
                server {
                    listen 127.0.0.1:{{Port.ToString(CultureInfo.InvariantCulture)}};
                    chunk_size 4096;
                    application live { live on; record off; allow publish 127.0.0.1; deny publish all; allow play 127.0.0.1; deny play all; }
                }
            }
            http {
                access_log {{_dir}}/logs/access.log;
                client_body_temp_path {{_dir}}/tmp;
                server { listen 127.0.0.1:{{http.ToString(CultureInfo.InvariantCulture)}}; location /stat { rtmp_stat all; } }
            }
            """);
        var psi = new ProcessStartInfo("/usr/sbin/nginx") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { "-c", conf, "-p", _dir + "/", "-g", "daemon off;" })
        {
            psi.ArgumentList.Add(a);
        }
        _nginx = Process.Start(psi)!;
    }

    public int Port { get; }

    public string Url(string stream) => $"rtmp://127.0.0.1:{Port}/live/{stream}";

    public void Dispose()
    {
        try
        {
            _nginx.Kill(entireProcessTree: true);
            _nginx.WaitForExit(5000);
        }
        catch (InvalidOperationException)
        {
            // exited
        }
        _nginx.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
