using Capstan.Contracts;
using Capstan.Server.Domain;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Capstan.Server.Api;

public static class RecordingsApi
{
    public static RouteGroupBuilder MapRecordingsApi(this RouteGroupBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var g = app.MapGroup("/recordings").WithTags("Recordings");
        g.MapGet("", List).WithName("get_all_recordings").WithQuery(OpenApiDocs.RecordingListQuery());
        g.MapPost("", Start).WithName("start_recording").WithSummary("Start a composite recording (200, status INVOKED; 409 with x-should-retry: false when one is active)")
            .WithDescription("With interactive_config {type: \"ID3\"} (H264 only: VP8/VP9 is 400 naming interactive_config) the video is delivered as a .tar "
                + "(output_file_name ends in .tar; download_url, file_size and sha256 are the tar's): playlist.m3u8 (HLS, #EXT-X-PLAYLIST-TYPE:VOD, "
                + "EXT-X-TARGETDURATION 10, #EXT-X-DISCONTINUITY where the recording resumed after a pause) first, then segment_00000.ts, segment_00001.ts, ... "
                + "beside it: MPEG-TS (H.264 + AAC) cut on keyframes, about 10 s each, with a timed ID3 stream (stream_type 0x15, PMT metadata descriptors of "
                + "format 'ID3 '). Each ID3Data broadcast message (POST .../meetings/{meeting_id}/broadcast, or window.capstanMeeting.broadcastMessage on the "
                + "meeting page) received while recording, until a CLOSE_TRANSPORT message, is an ID3v2.4 tag with one PRIV frame (owner com.capstan.id3data, "
                + "data: the payload's JSON in UTF-8) at the PTS of the moment the server received it on the recording's timeline (pauses left out).");
        g.MapPost("/track", StartTrack).WithName("startTrackRecordingForAMeeting")
            .WithSummary("Start a track recording: one WebM per participant peer and media kind (needs a live session; 409 when one is active)")
            .WithDescription("Both request shapes: {meeting_id, layers.<name>.{media_kind, file_name_prefix}, user_ids} and the legacy "
                + "{meeting_id, layers.<name>.{file_name_prefix, outputs[{type: REALTIMEKIT_BUCKET | STORAGE_CONFIG, storage_config}]}, max_seconds}. "
                + "media_kind 'video' is a Capstan extension (VP8). After UPLOADED, download_url is [{layer_name, download_urls: {<file>: {download_url}}}] "
                + "and every layer lists manifest.json: each file's participant, peer, kinds, and its start, end and segments in ms since the session started. "
                + "A shared screen is recorded as its sharer's files with stream_kind 'screenshare' ({prefix}_{user_id}_{peer_id}_screenshare_{media_kind}_{epoch}.webm; "
                + "cameras and microphones: 'webcam'); a share that stops and starts again is one file with a segment per share.");
        g.MapGet("/active-recording/{meeting_id}", Active).WithName("get_active_recording");
        g.MapGet("/{recording_id}", Get).WithName("get_one_recording");
        g.MapPut("/{recording_id}", Act).WithName("pause_resume_stop_recording").WithSummary("Pause, resume or stop: {\"action\": \"stop\" | \"pause\" | \"resume\"}");
        return app;
    }

    private static async Task<Ok<PagedEnvelope<List<RecordingDto>>>> List(ApiCaller caller, HttpRequest request, RecordingService recordings, CancellationToken ct)
    {
        var q = new QueryReader(request.Query);
        q.OneOf("sort_by", ["invokedTime"]);
        var filter = new RecordingListFilter(
            q.Uuid("meeting_id"), q.Bool("expired"), q.String("search"), q.OneOf("sort_order", ["ASC", "DESC"]) == "ASC",
            q.Time("start_time"), q.Time("end_time"), q.List("status", RecordingStatus.All), q.Page());
        var (items, meetings, total) = await recordings.ListAsync(caller.AppId, filter, ct);
        var dtos = items.Select(r => r.ToDto(meetings.GetValueOrDefault(r.MeetingId), details: false)).ToList();
        return Envelopes.Page(dtos, filter.Page.PagingFor(total, dtos.Count));
    }

    private static async Task<Ok<Envelope<RecordingDto>>> Start(ApiCaller caller, StartRecordingRequest? body, RecordingService recordings, CancellationToken ct) =>
        Envelopes.Ok(await WithQueueAsync(recordings, await recordings.StartAsync(caller.AppId, body, ct), ct));

    private static async Task<Ok<Envelope<TrackRecordingResponse>>> StartTrack(ApiCaller caller, TrackRecordingRequest? body, RecordingService recordings, CancellationToken ct) =>
        Envelopes.Ok(new TrackRecordingResponse((await recordings.StartTrackAsync(caller.AppId, body, ct)).ToDto()));

    private static async Task<Ok<Envelope<RecordingDto>>> Active(ApiCaller caller, string meeting_id, RecordingService recordings, CancellationToken ct) =>
        Envelopes.Ok((await recordings.ActiveAsync(caller.AppId, Ids.Parse(meeting_id, "meeting_id"), ct)).ToDto(details: false));

    private static async Task<Ok<Envelope<RecordingDto>>> Get(ApiCaller caller, string recording_id, RecordingService recordings, CancellationToken ct) =>
        Envelopes.Ok(await WithQueueAsync(recordings, await recordings.FindAsync(caller.AppId, Ids.Parse(recording_id, "recording_id"), tracking: false, ct), ct));

    private static async Task<RecordingDto> WithQueueAsync(RecordingService recordings, Data.RecordingRow row, CancellationToken ct) =>
        row.ToDto(queuePosition: await recordings.QueuePositionAsync(row, ct));

    private static async Task<Ok<Envelope<RecordingDto>>> Act(ApiCaller caller, string recording_id, RecordingActionRequest? body, RecordingService recordings, CancellationToken ct) =>
        Envelopes.Ok((await recordings.ActAsync(caller.AppId, Ids.Parse(recording_id, "recording_id"), body, ct)).ToDto());
}
