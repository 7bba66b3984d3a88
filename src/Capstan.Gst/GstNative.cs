using System.Runtime.InteropServices;

namespace Capstan.Gst;

/// <summary>The few entry points of Debian's GStreamer 1.22 (and GLib/GObject under it) the native compositor uses.
/// No variadic function (<c>g_object_set</c>, which .NET cannot call on Linux): properties are set from strings
/// with <c>gst_util_set_object_arg</c>. Struct fields read directly (<see cref="MessageTypeOffset"/>, ...) are those
/// of the 64-bit layout of 1.22, checked by the unit tests.</summary>
internal static unsafe partial class GstNative
{
    private const string Gst = "libgstreamer-1.0.so.0";
    private const string GObject = "libgobject-2.0.so.0";
    private const string GLib = "libglib-2.0.so.0";

    // GstMiniObject is 64 bytes; GstMessage: type (64), timestamp (72), src (80). GstBuffer: pool (64), pts (72).
    // GstEvent: type (64). GstPadProbeInfo: type (0), id (8), data (16). GError: domain (0), code (4), message (8).
    internal const int MessageTypeOffset = 64;
    internal const int MessageSourceOffset = 80;
    internal const int BufferPtsOffset = 72;
    internal const int EventTypeOffset = 64;
    internal const int ProbeInfoDataOffset = 16;
    internal const int ErrorMessageOffset = 8;

    /// <summary><c>GST_EVENT_CAPS</c>: number 50, flowing downstream, serialized, sticky (<c>GST_EVENT_MAKE_TYPE</c>).</summary>
    internal const int EventCaps = (50 << 8) | (1 << 1) | (1 << 2) | (1 << 3);

    /// <summary><c>GST_PAD_PROBE_TYPE_BUFFER</c> and <c>GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM</c>.</summary>
    internal const int ProbeBuffer = 1 << 4;
    internal const int ProbeEventDownstream = 1 << 6;

    /// <summary><c>GST_PAD_PROBE_DROP</c> (the item is dropped) and <c>GST_PAD_PROBE_REMOVE</c> (the probe is removed,
    /// the item passes).</summary>
    internal const int ProbeDrop = 0;
    internal const int ProbeRemove = 2;

    [LibraryImport(Gst)]
    internal static partial int gst_init_check(IntPtr argc, IntPtr argv, out IntPtr error);

    [LibraryImport(Gst, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial IntPtr gst_parse_launch(string description, out IntPtr error);

    [LibraryImport(Gst)]
    internal static partial IntPtr gst_parse_launchv(IntPtr argv, out IntPtr error);

    [LibraryImport(Gst, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial IntPtr gst_element_factory_make(string factory, string? name);

    [LibraryImport(Gst, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial IntPtr gst_parse_bin_from_description(string description, int ghostUnlinkedPads, out IntPtr error);

    [LibraryImport(Gst, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial IntPtr gst_ghost_pad_new(string name, IntPtr target);

    [LibraryImport(Gst)]
    internal static partial int gst_element_add_pad(IntPtr element, IntPtr pad);

    [LibraryImport(Gst)]
    internal static partial IntPtr gst_object_ref_sink(IntPtr obj);

    [LibraryImport(Gst)]
    internal static partial void gst_object_unref(IntPtr obj);

    [LibraryImport(Gst)]
    internal static partial IntPtr gst_object_get_name(IntPtr obj);

    [LibraryImport(Gst, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial IntPtr gst_bin_get_by_name(IntPtr bin, string name);

    [LibraryImport(Gst)]
    internal static partial int gst_bin_add(IntPtr bin, IntPtr element);

    [LibraryImport(Gst)]
    internal static partial int gst_bin_remove(IntPtr bin, IntPtr element);

    [LibraryImport(Gst, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial IntPtr gst_element_request_pad_simple(IntPtr element, string name);

    [LibraryImport(Gst, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial IntPtr gst_element_get_static_pad(IntPtr element, string name);

    [LibraryImport(Gst)]
    internal static partial void gst_element_release_request_pad(IntPtr element, IntPtr pad);

    [LibraryImport(Gst)]
    internal static partial int gst_pad_link(IntPtr src, IntPtr sink);

    [LibraryImport(Gst, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial void gst_util_set_object_arg(IntPtr obj, string name, string value);

    [LibraryImport(Gst)]
    internal static partial int gst_element_sync_state_with_parent(IntPtr element);

    [LibraryImport(Gst)]
    internal static partial int gst_element_set_state(IntPtr element, int state);

    [LibraryImport(Gst)]
    internal static partial int gst_element_get_state(IntPtr element, out int state, out int pending, ulong timeout);

    [LibraryImport(Gst)]
    internal static partial IntPtr gst_element_get_bus(IntPtr element);

    [LibraryImport(Gst)]
    internal static partial IntPtr gst_bus_timed_pop_filtered(IntPtr bus, ulong timeout, int types);

    [LibraryImport(Gst)]
    internal static partial void gst_message_parse_error(IntPtr message, out IntPtr error, out IntPtr debug);

    [LibraryImport(Gst)]
    internal static partial void gst_message_parse_warning(IntPtr message, out IntPtr error, out IntPtr debug);

    [LibraryImport(Gst)]
    internal static partial IntPtr gst_message_get_structure(IntPtr message);

    [LibraryImport(Gst)]
    internal static partial IntPtr gst_structure_to_string(IntPtr structure);

    [LibraryImport(Gst)]
    internal static partial void gst_mini_object_unref(IntPtr obj);

    [LibraryImport(Gst)]
    internal static partial IntPtr gst_event_new_eos();

    [LibraryImport(Gst)]
    internal static partial void gst_event_parse_caps(IntPtr ev, out IntPtr caps);

    [LibraryImport(Gst)]
    internal static partial IntPtr gst_caps_get_structure(IntPtr caps, uint index);

    [LibraryImport(Gst, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int gst_structure_get_int(IntPtr structure, string field, out int value);

    [LibraryImport(Gst)]
    internal static partial int gst_element_send_event(IntPtr element, IntPtr ev);

    [LibraryImport(Gst)]
    internal static partial int gst_pad_send_event(IntPtr pad, IntPtr ev);

    [LibraryImport(Gst)]
    internal static partial IntPtr gst_element_get_clock(IntPtr element);

    [LibraryImport(Gst)]
    internal static partial ulong gst_element_get_base_time(IntPtr element);

    [LibraryImport(Gst)]
    internal static partial ulong gst_clock_get_time(IntPtr clock);

    [LibraryImport(Gst)]
    internal static partial IntPtr gst_system_clock_obtain();

    [LibraryImport(Gst)]
    internal static partial void gst_pipeline_use_clock(IntPtr pipeline, IntPtr clock);

    [LibraryImport(Gst)]
    internal static partial void gst_element_set_base_time(IntPtr element, ulong time);

    [LibraryImport(Gst)]
    internal static partial void gst_element_set_start_time(IntPtr element, ulong time);

    [LibraryImport(Gst)]
    internal static partial ulong gst_pad_add_probe(IntPtr pad, int mask, delegate* unmanaged<IntPtr, IntPtr, IntPtr, int> callback, IntPtr userData, delegate* unmanaged<IntPtr, void> destroy);

    [LibraryImport(GObject, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial void g_object_get_property(IntPtr obj, string name, ref GValue value);

    [LibraryImport(GObject)]
    internal static partial IntPtr g_value_init(ref GValue value, nuint type);

    [LibraryImport(GObject, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial void g_object_set_property(IntPtr obj, string name, ref GValue value);

    [LibraryImport(GObject)]
    internal static partial void g_value_set_boxed(ref GValue value, IntPtr boxed);

    [LibraryImport(Gst)]
    internal static partial nuint gst_structure_get_type();

    [LibraryImport(GObject)]
    internal static partial int g_value_get_int(ref GValue value);

    [LibraryImport(GObject)]
    internal static partial void g_value_unset(ref GValue value);

    [LibraryImport(GLib)]
    internal static partial void g_error_free(IntPtr error);

    [LibraryImport(GLib)]
    internal static partial void g_free(IntPtr mem);

    /// <summary>A GValue: its GType and two 8-byte data words.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct GValue
    {
        public nuint Type;
        public long Data0;
        public long Data1;
    }

    /// <summary>G_TYPE_INT (fundamental 6, shifted by 2).</summary>
    internal const nuint GTypeInt = 6 << 2;

    /// <summary>A string GLib allocated, copied and freed.</summary>
    internal static string? TakeString(IntPtr p)
    {
        if (p == IntPtr.Zero)
        {
            return null;
        }
        var s = Marshal.PtrToStringUTF8(p);
        g_free(p);
        return s;
    }

    /// <summary>A GError's message, the error freed.</summary>
    internal static string TakeError(IntPtr error)
    {
        if (error == IntPtr.Zero)
        {
            return "unknown error";
        }
        var s = Marshal.PtrToStringUTF8(Marshal.ReadIntPtr(error, ErrorMessageOffset)) ?? "unknown error";
        g_error_free(error);
        return s;
    }
}
