// capstan-compositor-host SPEC_JSON: one native composite pipeline (Capstan.Gst.Compositor.CompositorHost).
return Capstan.Gst.Compositor.CompositorHost.Run(args);
