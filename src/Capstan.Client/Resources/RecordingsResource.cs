using Capstan.Client.Models;

namespace Capstan.Client.Resources;

/// <summary><c>.../{app_id}/recordings</c>: the six methods of the official SDK, plus conveniences (pause, resume,
/// stop, wait, download).</summary>
public sealed class RecordingsResource
{
    private readonly ApiTransport _t;

    internal RecordingsResource(ApiTransport transport) => _t = transport;

    /// <summary>One page of recordings, newest first by default (<c>recordings.getRecordings</c>).</summary>
    public Task<Page<Recording>> GetRecordingsAsync(string appId, RecordingListOptions? options = null, CancellationToken cancellationToken = default) =>
        PageAsync(appId, options ?? new(), null, cancellationToken);

    /// <summary>Every recording that matches, page after page.</summary>
    public IAsyncEnumerable<Recording> GetRecordingsAutoPagingAsync(string appId, RecordingListOptions? options = null, CancellationToken cancellationToken = default)
    {
        var o = options ?? new();
        return AutoPager.AllAsync((n, ct) => PageAsync(appId, o, n, ct), o.PageNo ?? 1, cancellationToken);
    }

    /// <summary>Starts a composite recording; it answers at once with status INVOKED (<c>recordings.startRecordings</c>).
    /// A meeting that already has an active recording gives a 409 <see cref="CapstanApiException"/>.</summary>
    public Task<Recording> StartRecordingsAsync(string appId, StartRecordingOptions options, CancellationToken cancellationToken = default) =>
        _t.DataAsync<Recording>(HttpMethod.Post, _t.KitPath(appId, "recordings"), options ?? throw new ArgumentNullException(nameof(options)), null, cancellationToken);

    /// <summary>Starts a track recording of a live meeting (<c>recordings.startTrackRecording</c>; the wire nests it under <c>data.recording</c>).</summary>
    public async Task<Recording> StartTrackRecordingAsync(string appId, StartTrackRecordingOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        return (await _t.DataAsync<TrackStarted>(HttpMethod.Post, _t.KitPath(appId, "recordings", "track"), options, null, cancellationToken).ConfigureAwait(false)).Recording;
    }

    /// <summary>The meeting's most recently started active recording; 404 when none (<c>recordings.getActiveRecordings</c>).</summary>
    public Task<Recording> GetActiveRecordingsAsync(string appId, string meetingId, CancellationToken cancellationToken = default) =>
        _t.DataAsync<Recording>(HttpMethod.Get, _t.KitPath(appId, "recordings", "active-recording", meetingId), null, null, cancellationToken);

    /// <summary>A recording (<c>recordings.getOneRecording</c>).</summary>
    public Task<Recording> GetOneRecordingAsync(string appId, string recordingId, CancellationToken cancellationToken = default) =>
        _t.DataAsync<Recording>(HttpMethod.Get, _t.KitPath(appId, "recordings", recordingId), null, null, cancellationToken);

    /// <summary>Pauses, resumes or stops a recording (<c>recordings.pauseResumeStopRecording</c>). An action that does
    /// not fit the status is a 400 naming the status.</summary>
    public Task<Recording> PauseResumeStopRecordingAsync(string appId, string recordingId, RecordingActionOptions options, CancellationToken cancellationToken = default) =>
        _t.DataAsync<Recording>(HttpMethod.Put, _t.KitPath(appId, "recordings", recordingId), options ?? throw new ArgumentNullException(nameof(options)), null, cancellationToken);

    /// <summary>Pauses a RECORDING recording.</summary>
    public Task<Recording> PauseAsync(string appId, string recordingId, CancellationToken cancellationToken = default) =>
        PauseResumeStopRecordingAsync(appId, recordingId, new RecordingActionOptions { Action = RecordingAction.Pause }, cancellationToken);

    /// <summary>Resumes a PAUSED recording.</summary>
    public Task<Recording> ResumeAsync(string appId, string recordingId, CancellationToken cancellationToken = default) =>
        PauseResumeStopRecordingAsync(appId, recordingId, new RecordingActionOptions { Action = RecordingAction.Resume }, cancellationToken);

    /// <summary>Stops a recording.</summary>
    public Task<Recording> StopAsync(string appId, string recordingId, CancellationToken cancellationToken = default) =>
        PauseResumeStopRecordingAsync(appId, recordingId, new RecordingActionOptions { Action = RecordingAction.Stop }, cancellationToken);

    /// <summary>Polls a recording until it is no longer in progress (UPLOADED or ERRORED) and returns it. Each poll is
    /// reported to <paramref name="progress"/>. Bound the wait with <paramref name="cancellationToken"/>.</summary>
    public async Task<Recording> WaitUntilFinishedAsync(string appId, string recordingId, TimeSpan? pollInterval = null, IProgress<Recording>? progress = null, CancellationToken cancellationToken = default)
    {
        var interval = pollInterval ?? TimeSpan.FromSeconds(2);
        while (true)
        {
            var r = await GetOneRecordingAsync(appId, recordingId, cancellationToken).ConfigureAwait(false);
            progress?.Report(r);
            if (!r.IsInProgress)
            {
                return r;
            }
            await Task.Delay(interval, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Downloads a signed <c>download_url</c> into <paramref name="destination"/>, reporting bytes received.
    /// The link carries its own signature: no token is sent with it.</summary>
    /// <returns>The number of bytes written.</returns>
    public async Task<long> DownloadAsync(string downloadUrl, Stream destination, IProgress<DownloadProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(downloadUrl);
        ArgumentNullException.ThrowIfNull(destination);
        var uri = new Uri(downloadUrl, UriKind.Absolute);
        using var response = await _t.Http.GetAsync(uri, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            throw new CapstanApiException(response.StatusCode, null, ErrorText(body, response), body, "GET", uri);
        }
        var total = response.Content.Headers.ContentLength;
        await using var source = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        var buffer = new byte[81920];
        long received = 0;
        progress?.Report(new DownloadProgress(0, total));
        int n;
        while ((n = await source.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
        {
            await destination.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
            received += n;
            progress?.Report(new DownloadProgress(received, total));
        }
        return received;
    }

    private static string ErrorText(string body, HttpResponseMessage response)
    {
        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(body);
            if (doc.RootElement.TryGetProperty("error", out var e) && e.TryGetProperty("message", out var m) && m.GetString() is { } s)
            {
                return s;
            }
        }
        catch (System.Text.Json.JsonException)
        {
            // S3 answers XML; the status says enough.
        }
        return response.ReasonPhrase ?? response.StatusCode.ToString();
    }

    private Task<Page<Recording>> PageAsync(string appId, RecordingListOptions o, int? pageNo, CancellationToken ct) =>
        _t.PageAsync<Recording>(_t.KitPath(appId, "recordings"), o.ToQuery(pageNo), pageNo ?? o.PageNo ?? 1, o.PerPage ?? 0, null, ct);

    private sealed record TrackStarted(Recording Recording);
}
