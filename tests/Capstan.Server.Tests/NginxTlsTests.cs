using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Capstan.Server.Data;
using Capstan.Server.Recorder;
using Capstan.Server.Tests.Infrastructure;

namespace Capstan.Server.Tests;

/// <summary><c>deploy/nginx/capstan.conf</c> run by Debian's nginx with a certificate the test makes: the API,
/// the pages and default-bucket downloads (with Range) work through TLS, and download links use the proxy's URL.</summary>
public sealed class NginxTlsTests
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;

    private sealed class ProxiedServer(int tlsPort) : ServerFixture(DatabaseProvider.Sqlite)
    {
        protected override IEnumerable<KeyValuePair<string, string?>> ExtraSettings() =>
            [new("Capstan:PublicBaseUrl", $"https://127.0.0.1:{tlsPort}")];
    }

    [Fact]
    public async Task ApiPagesAndDownloads_WorkThroughNginxWithTls()
    {
        Assert.True(File.Exists("/usr/sbin/nginx"), "nginx is missing: scripts/deps.sh test installs nginx-light");
        var dir = Path.Combine(Path.GetTempPath(), "capstan-nginx-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dir);
        var tlsPort = TestHttpServer.FreePort();
        var httpPort = TestHttpServer.FreePort();
        using var cert = SelfSigned();
        await File.WriteAllTextAsync(Path.Combine(dir, "cert.pem"), cert.ExportCertificatePem(), Ct);
        await File.WriteAllTextAsync(Path.Combine(dir, "key.pem"), cert.GetRSAPrivateKey()!.ExportPkcs8PrivateKeyPem(), Ct);

        await using var server = new ProxiedServer(tlsPort);
        await server.InitializeAsync();
        var conf = await File.ReadAllTextAsync(Path.Combine(ThrowawayPostgres.RepoRoot(), "deploy", "nginx", "capstan.conf"), Ct);
        conf = Replace(conf, "server 127.0.0.1:8080;", $"server 127.0.0.1:{server.BaseUrl.Port};");
        conf = Replace(conf, "listen 443 ssl http2;", $"listen 127.0.0.1:{tlsPort} ssl http2;");
        conf = Replace(conf, "listen 80;", $"listen 127.0.0.1:{httpPort};");
        conf = Replace(conf, "/etc/ssl/capstan/fullchain.pem", Path.Combine(dir, "cert.pem"));
        conf = Replace(conf, "/etc/ssl/capstan/privkey.pem", Path.Combine(dir, "key.pem"));
        await File.WriteAllTextAsync(Path.Combine(dir, "capstan.conf"), conf, Ct);
        await File.WriteAllTextAsync(Path.Combine(dir, "nginx.conf"), $$"""
            daemon off;
            user root;
            worker_processes 1;
            pid {{dir}}/nginx.pid;
            error_log {{dir}}/error.log warn;
            events { worker_connections 64; }
            http {
                access_log off;
                client_body_temp_path {{dir}}/body;
                proxy_temp_path {{dir}}/proxy;
                fastcgi_temp_path {{dir}}/fastcgi;
                uwsgi_temp_path {{dir}}/uwsgi;
                scgi_temp_path {{dir}}/scgi;
                include {{dir}}/capstan.conf;
            }
            """, Ct);

        var psi = new ProcessStartInfo("/usr/sbin/nginx") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "-p", dir, "-c", Path.Combine(dir, "nginx.conf") })
        {
            psi.ArgumentList.Add(a);
        }
        using var nginx = Process.Start(psi)!;
        var nginxErrors = nginx.StandardError.ReadToEndAsync(Ct);
        try
        {
            using var handler = new HttpClientHandler
            {
                // Trust exactly the test's certificate: real TLS, pinned.
                ServerCertificateCustomValidationCallback = (_, presented, _, _) => presented is not null && presented.Thumbprint == cert.Thumbprint,
            };
            using var https = new HttpClient(handler) { BaseAddress = new Uri($"https://127.0.0.1:{tlsPort}"), Timeout = TimeSpan.FromSeconds(30) };
            await MetricsTests.UntilAsync(async () =>
            {
                Assert.False(nginx.HasExited, "nginx exited: " + (nginx.HasExited ? await nginxErrors : string.Empty));
                try
                {
                    return (await https.GetAsync("/healthz", Ct)).IsSuccessStatusCode;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            }, "nginx to answer over TLS", 20);

            // The API, as the official SDK uses it.
            https.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", server.Account.Token);
            var meeting = (await https.PostJsonAsync($"{server.Account.AppPath}/meetings", new { title = "behind nginx" })).Data(HttpStatusCode.Created).Str("id");
            Assert.Equal("behind nginx", (await https.GetJsonAsync($"{server.Account.AppPath}/meetings/{meeting}")).Data().Str("title"));
            (await https.GetJsonAsync($"{server.Account.AppPath}/meetings/not-a-meeting")).Error(HttpStatusCode.BadRequest);
            var recording = (await https.PostJsonAsync($"{server.Account.AppPath}/recordings", new { meeting_id = meeting })).Data().Str("id");

            // Pages.
            using (var page = await https.GetAsync("/dashboard", Ct))
            {
                Assert.Equal(HttpStatusCode.OK, page.StatusCode);
                Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
            }

            // A default-bucket file: its signed link names the proxy, and the download (whole and a range) goes through it.
            var bytes = RandomNumberGenerator.GetBytes(300_000);
            var file = Path.Combine(dir, "source.mp4");
            await File.WriteAllBytesAsync(file, bytes, Ct);
            var bucket = server.Services.GetRequiredService<DefaultBucket>();
            await bucket.StoreAsync(server.Account.AppId, Guid.Parse(recording), file, "behind-nginx.mp4", Ct);
            var url = await bucket.SignedUrlAsync(server.Account.AppId, Guid.Parse(recording), "behind-nginx.mp4", DateTime.UtcNow.AddHours(1));
            Assert.StartsWith($"https://127.0.0.1:{tlsPort}/bucket/", url, StringComparison.Ordinal);
            using var plain = new HttpClient(new HttpClientHandler { ServerCertificateCustomValidationCallback = handler.ServerCertificateCustomValidationCallback });
            Assert.Equal(bytes, await plain.GetByteArrayAsync(url, Ct));
            using var ranged = new HttpRequestMessage(HttpMethod.Get, url);
            ranged.Headers.Range = new RangeHeaderValue(1000, 1999);
            using var part = await plain.SendAsync(ranged, Ct);
            Assert.Equal(HttpStatusCode.PartialContent, part.StatusCode);
            Assert.Equal(bytes[1000..2000], await part.Content.ReadAsByteArrayAsync(Ct));

            // Metrics are not exposed through the proxy; plain HTTP is redirected to HTTPS.
            Assert.Equal(HttpStatusCode.NotFound, (await https.GetAsync("/metrics", Ct)).StatusCode);
            using var redirect = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });
            using var moved = await redirect.GetAsync($"http://127.0.0.1:{httpPort}/healthz", Ct);
            Assert.Equal(HttpStatusCode.MovedPermanently, moved.StatusCode);
            Assert.StartsWith("https://", moved.Headers.Location?.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            if (!nginx.HasExited)
            {
                nginx.Kill(entireProcessTree: true);
            }
            await nginx.WaitForExitAsync(CancellationToken.None);
            Directory.Delete(dir, recursive: true);
        }
    }

    private static string Replace(string text, string what, string with)
    {
        Assert.True(text.Contains(what, StringComparison.Ordinal), $"deploy/nginx/capstan.conf no longer has '{what}'");
        return text.Replace(what, with, StringComparison.Ordinal);
    }

    private static X509Certificate2 SelfSigned()
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest("CN=capstan.test", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        san.AddDnsName("localhost");
        request.CertificateExtensions.Add(san.Build());
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
    }
}
