using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Capstan.Media.Tests;

/// <summary>A tiny HTTP server on 127.0.0.1 for test pages and images (<see cref="TestHttpServer"/>); remembers
/// every request URL.</summary>
public sealed class StaticServer : IDisposable
{
    private readonly Dictionary<string, (byte[] Body, string Type)> _files = [];
    private readonly TestHttpServer _server;

    public StaticServer() => _server = new TestHttpServer(Answer);

    public int Port => _server.Port;

    public IReadOnlyList<Uri> Requests => _server.Requests;

    public string Url(string path) => _server.Url(path);

    public void Add(string path, byte[] body, string type)
    {
        lock (_files)
        {
            _files[path] = (body, type);
        }
    }

    public void Add(string path, string body, string type) => Add(path, Encoding.UTF8.GetBytes(body), type);

    private void Answer(HttpListenerContext c)
    {
        (byte[] Body, string Type) f;
        bool found;
        lock (_files)
        {
            found = _files.TryGetValue(c.Request.Url!.AbsolutePath.TrimStart('/'), out f);
        }
        if (found)
        {
            TestHttpServer.Write(c, f.Body, f.Type);
        }
        else
        {
            c.Response.StatusCode = 404;
        }
    }

    public void Dispose() => _server.Dispose();
}

/// <summary>nginx from Debian with libnginx-mod-rtmp, in the foreground with a private config on 127.0.0.1.</summary>
public sealed class RtmpServer : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "capstan-rtmp-" + Guid.NewGuid().ToString("N"));
    private readonly Process _nginx;

    public RtmpServer()
    {
        Port = TestHttpServer.FreePort();
        var http = TestHttpServer.FreePort();
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
