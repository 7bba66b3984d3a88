using System.Runtime.InteropServices;
using static Capstan.Gst.GstNative;

namespace Capstan.Gst;

/// <summary>A GStreamer failure: a description that does not parse, a link refused, an element that will not
/// change state.</summary>
public sealed class GstException(string message) : Exception(message);

/// <summary>Element states.</summary>
public enum GstState
{
    Null = 1,
    Ready = 2,
    Paused = 3,
    Playing = 4,
}

/// <summary>The bus message kinds read (GstMessageType flags).</summary>
[Flags]
public enum GstMessageKind
{
    None = 0,
    Eos = 1 << 0,
    Error = 1 << 1,
    Warning = 1 << 2,
    StateChanged = 1 << 6,
    Element = 1 << 15,
}

/// <summary>A bus message, copied out: its kind, the name of the object that posted it, and its text (the error or
/// warning message with its debug detail, or an element message's structure).</summary>
public sealed record GstMessage(GstMessageKind Kind, string? Source, string? Text);

/// <summary>One reference on a GstObject (element, bin, pad, bus), dropped when disposed.</summary>
public sealed class GstRef : SafeHandle
{
    public GstRef(IntPtr handle)
        : base(IntPtr.Zero, ownsHandle: true) => SetHandle(handle);

    public override bool IsInvalid => handle == IntPtr.Zero;

    protected override bool ReleaseHandle()
    {
        gst_object_unref(handle);
        return true;
    }
}

/// <summary>The GStreamer library: <see cref="Init"/> once per process.</summary>
public static class GstLib
{
    private static readonly Lock Gate = new();
    private static bool _ready;

    /// <summary>Initialises GStreamer (the first call scans the plugins into the registry cache under HOME).</summary>
    public static void Init()
    {
        lock (Gate)
        {
            if (_ready)
            {
                return;
            }
            if (gst_init_check(IntPtr.Zero, IntPtr.Zero, out var error) == 0)
            {
                throw new GstException("gst_init failed: " + TakeError(error));
            }
            _ready = true;
        }
    }

    /// <summary>Loads the plugins of these element factories now (by making one element of each and dropping it),
    /// so that a pipeline built later does not wait for them. Returns the factories that could not be made.</summary>
    public static IReadOnlyList<string> Preload(IEnumerable<string> factories)
    {
        ArgumentNullException.ThrowIfNull(factories);
        Init();
        var missing = new List<string>();
        foreach (var f in factories)
        {
            var e = gst_element_factory_make(f, null);
            if (e == IntPtr.Zero)
            {
                missing.Add(f);
                continue;
            }
            gst_object_unref(gst_object_ref_sink(e));
        }
        return missing;
    }
}

/// <summary>A GstElement (a pipeline or a bin too) we hold a reference on.</summary>
public class GstElement : IDisposable
{
    private protected GstElement(IntPtr handle) => Ref = new GstRef(handle);

    internal GstRef Ref { get; }

    internal IntPtr Handle => Ref.DangerousGetHandle();

    /// <summary>A pipeline from a gst-launch description.</summary>
    public static GstElement Launch(string description)
    {
        GstLib.Init();
        var p = gst_parse_launch(description, out var error);
        return Parsed(p, error, "bad pipeline: ");
    }

    /// <summary>A parser's result: the element (its floating reference sunk), or its error thrown.</summary>
    private static GstElement Parsed(IntPtr p, IntPtr error, string what)
    {
        if (error != IntPtr.Zero)
        {
            if (p != IntPtr.Zero)
            {
                gst_object_unref(gst_object_ref_sink(p));
            }
            throw new GstException(what + TakeError(error));
        }
        return new GstElement(gst_object_ref_sink(p));
    }

    /// <summary>A pipeline from gst-launch's arguments, each one word as gst-launch takes them (the same parse:
    /// <c>gst_parse_launchv</c>, which escapes the spaces a word holds outside quotes).</summary>
    public static GstElement LaunchV(IReadOnlyList<string> words)
    {
        ArgumentNullException.ThrowIfNull(words);
        GstLib.Init();
        var strings = words.Select(Marshal.StringToCoTaskMemUTF8).ToArray();
        var argv = Marshal.AllocHGlobal(IntPtr.Size * (strings.Length + 1));
        try
        {
            for (var i = 0; i < strings.Length; i++)
            {
                Marshal.WriteIntPtr(argv, i * IntPtr.Size, strings[i]);
            }
            Marshal.WriteIntPtr(argv, strings.Length * IntPtr.Size, IntPtr.Zero);
            var p = gst_parse_launchv(argv, out var error);
            return Parsed(p, error, "bad pipeline: ");
        }
        finally
        {
            Marshal.FreeHGlobal(argv);
            foreach (var s in strings)
            {
                Marshal.FreeCoTaskMem(s);
            }
        }
    }

    /// <summary>A bin from a description. With <paramref name="ghostUnlinkedPads"/> its unlinked pads are ghosted
    /// (the bin's own <c>src</c>/<c>sink</c>); beware that this links an element's optional sink pads too (a
    /// <c>textoverlay</c> then waits for text): otherwise <see cref="GhostSource"/> picks the pad.</summary>
    public static GstElement Bin(string description, bool ghostUnlinkedPads = true)
    {
        GstLib.Init();
        var p = gst_parse_bin_from_description(description, ghostUnlinkedPads ? 1 : 0, out var error);
        return Parsed(p, error, "bad bin: ");
    }

    public string? Name => TakeString(gst_object_get_name(Handle));

    /// <summary>Gives the bin a <c>src</c> pad that is <paramref name="element"/>'s <c>src</c> pad.</summary>
    public void GhostSource(string element)
    {
        using var inner = Get(element);
        using var target = inner.StaticPad("src");
        var ghost = gst_ghost_pad_new("src", target.Handle);
        if (ghost == IntPtr.Zero || gst_element_add_pad(Handle, ghost) == 0)
        {
            throw new GstException($"cannot ghost {element}'s src pad");
        }
    }

    /// <summary>A child element by name (searched recursively), or null.</summary>
    public GstElement? Child(string name)
    {
        var p = gst_bin_get_by_name(Handle, name);
        return p == IntPtr.Zero ? null : new GstElement(p);
    }

    /// <summary>A child element by name; throws when there is none.</summary>
    public GstElement Get(string name) => Child(name) ?? throw new GstException($"no element '{name}'");

    public void Add(GstElement child)
    {
        ArgumentNullException.ThrowIfNull(child);
        if (gst_bin_add(Handle, child.Handle) == 0)
        {
            throw new GstException($"cannot add '{child.Name}'");
        }
    }

    public void Remove(GstElement child)
    {
        ArgumentNullException.ThrowIfNull(child);
        if (gst_bin_remove(Handle, child.Handle) == 0)
        {
            throw new GstException($"cannot remove '{child.Name}'");
        }
    }

    /// <summary>A request pad from a template name (<c>sink_%u</c>).</summary>
    public GstPad RequestPad(string template)
    {
        var p = gst_element_request_pad_simple(Handle, template);
        return p == IntPtr.Zero ? throw new GstException($"no request pad '{template}' on '{Name}'") : new GstPad(p, this);
    }

    public GstPad StaticPad(string name)
    {
        var p = gst_element_get_static_pad(Handle, name);
        return p == IntPtr.Zero ? throw new GstException($"no pad '{name}' on '{Name}'") : new GstPad(p, null);
    }

    /// <summary>Sets a property from its string form (enums by nick, caps, fractions...).</summary>
    public void Set(string property, string value) => gst_util_set_object_arg(Handle, property, value);

    public int GetInt(string property)
    {
        var v = default(GValue);
        g_value_init(ref v, GTypeInt);
        g_object_get_property(Handle, property, ref v);
        var r = g_value_get_int(ref v);
        g_value_unset(ref v);
        return r;
    }

    public void SetState(GstState state)
    {
        if (gst_element_set_state(Handle, (int)state) == 0)
        {
            throw new GstException($"'{Name}' refused state {state}");
        }
    }

    /// <summary>Sets a pipeline playing on the system clock with its running time's origin (base time) fixed now,
    /// before any of its elements starts, where <see cref="SetState"/> to playing fixes it only on the way.
    /// <para>Why: on the way to playing, a pipeline hands its clock to every element at once and only then each
    /// element its base time, one after the other. A live mixer (<c>compositor</c>, <c>audiomixer</c>) whose
    /// thread looked in between waited for its first output on the new clock with the old base time, 0: a time
    /// long past, so it put out its first output at once, with no input there, and the sound mixer took that for
    /// the end of its stream and sent end-of-stream from its first buffer on. Seen (GST_DEBUG=aggregator:6) as
    /// "waiting for clock to reach 0:00:01.01 (base 0 ...) current 22:00:25", then "flow return is eos": a
    /// recording with no sound, or with RTMP out the MPEG-TS muxer failing on an input that ended before it had
    /// caps ("Could not create handler for stream"): GstTests' RTMP test failed 14 runs in 100 so, the compositor
    /// host rebuilt its pipeline for it in 1 start of 80. With the base time
    /// set first, every element has it from the first state change on, and the pipeline keeps it.</para></summary>
    public void PlayOnSystemClock()
    {
        var clock = gst_system_clock_obtain();
        try
        {
            gst_pipeline_use_clock(Handle, clock);
            gst_element_set_start_time(Handle, ulong.MaxValue); // GST_CLOCK_TIME_NONE: the pipeline keeps the base time
            gst_element_set_base_time(Handle, gst_clock_get_time(clock));
        }
        finally
        {
            gst_object_unref(clock);
        }
        SetState(GstState.Playing);
    }

    /// <summary>Waits up to <paramref name="timeout"/> for a pending state change; the state reached.</summary>
    public GstState WaitState(TimeSpan timeout)
    {
        gst_element_get_state(Handle, out var state, out _, (ulong)(timeout.TotalMilliseconds * 1_000_000));
        return (GstState)state;
    }

    /// <summary>Brings an element added to a running bin to the bin's state (it shares the bin's clock and base time).</summary>
    public void SyncStateWithParent()
    {
        if (gst_element_sync_state_with_parent(Handle) == 0)
        {
            throw new GstException($"'{Name}' cannot follow its parent's state");
        }
    }

    /// <summary>The running time now (ns): the clock's time less the base time, as the pipeline's buffers are stamped;
    /// null when the element has no clock (not playing).</summary>
    public long? RunningTime()
    {
        var clock = gst_element_get_clock(Handle);
        if (clock == IntPtr.Zero)
        {
            return null;
        }
        try
        {
            return (long)(gst_clock_get_time(clock) - gst_element_get_base_time(Handle));
        }
        finally
        {
            gst_object_unref(clock);
        }
    }

    /// <summary>Sends end-of-stream into the element (a pipeline forwards it to its sources).</summary>
    public void SendEos() => gst_element_send_event(Handle, gst_event_new_eos());

    public GstBus Bus() => new(gst_element_get_bus(Handle));

    public void Dispose()
    {
        Ref.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>A pad; a request pad remembers its element so that it can be released.</summary>
public sealed class GstPad : IDisposable
{
    private readonly GstElement? _owner;

    internal GstPad(IntPtr handle, GstElement? owner)
    {
        Ref = new GstRef(handle);
        _owner = owner;
    }

    internal GstRef Ref { get; }

    internal IntPtr Handle => Ref.DangerousGetHandle();

    public string? Name => TakeString(gst_object_get_name(Handle));

    public void Set(string property, string value) => gst_util_set_object_arg(Handle, property, value);

    /// <summary>Sets a <c>GstStructure</c> property back to none (a mixer pad's <c>converter-config</c>: with one, even
    /// an empty one, the mixer converts every frame of the pad, also one that needs no conversion).</summary>
    public void Clear(string property)
    {
        var value = default(GValue);
        g_value_init(ref value, gst_structure_get_type());
        try
        {
            g_value_set_boxed(ref value, IntPtr.Zero);
            g_object_set_property(Handle, property, ref value);
        }
        finally
        {
            g_value_unset(ref value);
        }
    }

    public void Link(GstPad sink)
    {
        ArgumentNullException.ThrowIfNull(sink);
        var r = gst_pad_link(Handle, sink.Handle);
        if (r != 0)
        {
            throw new GstException($"link {Name} -> {sink.Name} failed ({r})");
        }
    }

    /// <summary>Calls <paramref name="onBuffer"/> with every buffer's PTS (ns, -1 when none) passing this pad. The
    /// callback runs on a streaming thread and must be quick.</summary>
    public unsafe void OnBuffer(Action<long> onBuffer) =>
        gst_pad_add_probe(Handle, ProbeBuffer, &BufferProbe, GCHandle.ToIntPtr(GCHandle.Alloc(onBuffer)), &FreeHandle);

    /// <summary>Calls <paramref name="onSize"/> with the width and height of the caps of every caps event passing
    /// this pad (a picture's size as negotiated, and again whenever it changes). The callback runs on a streaming
    /// thread and must be quick.</summary>
    public unsafe void OnVideoSize(Action<int, int> onSize) =>
        gst_pad_add_probe(Handle, ProbeEventDownstream, &CapsProbe, GCHandle.ToIntPtr(GCHandle.Alloc(onSize)), &FreeHandle);

    /// <summary>Calls <paramref name="onFirst"/> on the streaming thread when the first buffer is about to leave this
    /// pad, before it is pushed: the callback may link the pad then, and the buffer (after the sticky events, stream
    /// start, caps and segment, kept on the pad meanwhile) goes to the new peer. True: the buffer goes on and the probe
    /// is removed. False, or a <see cref="GstException"/> (written to stderr): the buffer is dropped and the next one
    /// asks again.</summary>
    public unsafe void OnFirstBuffer(Func<bool> onFirst) =>
        gst_pad_add_probe(Handle, ProbeBuffer, &FirstBufferProbe, GCHandle.ToIntPtr(GCHandle.Alloc(onFirst)), &FreeHandle);

    [UnmanagedCallersOnly]
    private static int FirstBufferProbe(IntPtr pad, IntPtr info, IntPtr user)
    {
        if (GCHandle.FromIntPtr(user).Target is not Func<bool> f)
        {
            return ProbeRemove;
        }
        try
        {
            return f() ? ProbeRemove : ProbeDrop;
        }
        catch (GstException e)
        {
            Console.Error.WriteLine("first buffer: " + e.Message);
            return ProbeDrop;
        }
    }

    [UnmanagedCallersOnly]
    private static int BufferProbe(IntPtr pad, IntPtr info, IntPtr user)
    {
        var buffer = Marshal.ReadIntPtr(info, ProbeInfoDataOffset);
        if (buffer != IntPtr.Zero && GCHandle.FromIntPtr(user).Target is Action<long> f)
        {
            var pts = Marshal.ReadInt64(buffer, BufferPtsOffset);
            try
            {
                f(pts);
            }
            catch (IOException)
            {
                // the reader went away
            }
        }
        return 1; // GST_PAD_PROBE_OK
    }

    [UnmanagedCallersOnly]
    private static int CapsProbe(IntPtr pad, IntPtr info, IntPtr user)
    {
        var ev = Marshal.ReadIntPtr(info, ProbeInfoDataOffset);
        if (ev != IntPtr.Zero && Marshal.ReadInt32(ev, EventTypeOffset) == EventCaps && GCHandle.FromIntPtr(user).Target is Action<int, int> f)
        {
            gst_event_parse_caps(ev, out var caps); // borrowed from the event
            var s = caps == IntPtr.Zero ? IntPtr.Zero : gst_caps_get_structure(caps, 0);
            if (s != IntPtr.Zero && gst_structure_get_int(s, "width", out var w) != 0 && gst_structure_get_int(s, "height", out var h) != 0)
            {
                f(w, h);
            }
        }
        return 1; // GST_PAD_PROBE_OK
    }

    /// <summary>The probe's destroy notify: its callback's handle is freed with the probe (the pad's end).</summary>
    [UnmanagedCallersOnly]
    private static void FreeHandle(IntPtr user) => GCHandle.FromIntPtr(user).Free();

    /// <summary>Sends end-of-stream into this (sink) pad, in order with the buffers flowing through it: what is
    /// downstream ends there, whatever upstream still makes.</summary>
    public void SendEos() => gst_pad_send_event(Handle, gst_event_new_eos());

    /// <summary>Gives a request pad back to its element.</summary>
    public void Release() => _owner?.Let(o => gst_element_release_request_pad(o.Handle, Handle));

    public void Dispose() => Ref.Dispose();
}

/// <summary>A pipeline's bus, read by popping messages.</summary>
public sealed class GstBus(IntPtr handle) : IDisposable
{
    private readonly GstRef _ref = new(handle);

    /// <summary>The next message of the given kinds within <paramref name="timeout"/>, or null.</summary>
    public GstMessage? Pop(TimeSpan timeout, GstMessageKind kinds = GstMessageKind.Eos | GstMessageKind.Error | GstMessageKind.Warning | GstMessageKind.Element)
    {
        var m = gst_bus_timed_pop_filtered(_ref.DangerousGetHandle(), (ulong)(timeout.TotalMilliseconds * 1_000_000), (int)kinds);
        if (m == IntPtr.Zero)
        {
            return null;
        }
        try
        {
            var kind = (GstMessageKind)Marshal.ReadInt32(m, MessageTypeOffset);
            var src = Marshal.ReadIntPtr(m, MessageSourceOffset);
            var source = src == IntPtr.Zero ? null : TakeString(gst_object_get_name(src));
            string? text = null;
            if (kind is GstMessageKind.Error or GstMessageKind.Warning)
            {
                IntPtr error, debug;
                if (kind == GstMessageKind.Error)
                {
                    gst_message_parse_error(m, out error, out debug);
                }
                else
                {
                    gst_message_parse_warning(m, out error, out debug);
                }
                text = TakeError(error) + (TakeString(debug) is { } d ? " (" + d + ")" : string.Empty);
            }
            else if (gst_message_get_structure(m) is var s && s != IntPtr.Zero)
            {
                text = TakeString(gst_structure_to_string(s));
            }
            return new GstMessage(kind, source, text);
        }
        finally
        {
            gst_mini_object_unref(m);
        }
    }

    public void Dispose() => _ref.Dispose();
}

internal static class GstExtensions
{
    internal static void Let<T>(this T value, Action<T> f) => f(value);
}
