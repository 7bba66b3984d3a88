using System.Text.Json;
using Capstan.Client;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Capstan.Cli;

/// <summary>The output formats: a table for people, JSON (the API's data, snake_case) for programs, or ids only.</summary>
public enum OutputFormat
{
    /// <summary>Human-readable tables.</summary>
    Table,

    /// <summary>The data as JSON (an array for lists).</summary>
    Json,

    /// <summary>Only the id(s), one per line: <c>MEETING=$(capstan rtk meetings create -o id)</c>.</summary>
    Id,
}

/// <summary>Writes results in the chosen format. Progress and live status go to the terminal only in table
/// format; in json/id formats they go to standard error, so standard output stays machine-readable.</summary>
public sealed class Output
{
    private static readonly JsonSerializerOptions Indented = new(ClientJson.Options) { WriteIndented = true };

    public Output(CliEnvironment env, OutputFormat format)
    {
        Env = env;
        Format = format;
        Console = Create(env.Out, env.OutIsTerminal && env.GetVariable("NO_COLOR") is null, env.OutIsTerminal);
        Status = format == OutputFormat.Table ? Console : Create(env.Error, env.ErrorIsTerminal && env.GetVariable("NO_COLOR") is null, env.ErrorIsTerminal);
        StatusIsTerminal = format == OutputFormat.Table ? env.OutIsTerminal : env.ErrorIsTerminal;
    }

    public CliEnvironment Env { get; }

    public OutputFormat Format { get; }

    /// <summary>Standard output.</summary>
    public IAnsiConsole Console { get; }

    /// <summary>Where progress and live status go.</summary>
    public IAnsiConsole Status { get; }

    /// <summary>Progress can redraw in place.</summary>
    public bool StatusIsTerminal { get; }

    private static IAnsiConsole Create(TextWriter writer, bool ansi, bool terminal)
    {
        var c = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = ansi ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = ansi ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = terminal ? InteractionSupport.Yes : InteractionSupport.No,
            Out = new AnsiConsoleOutput(writer),
        });
        if (!terminal)
        {
            c.Profile.Width = 200;
        }
        return c;
    }

    /// <summary>One object: JSON, its id, or a two-column table of <paramref name="rows"/>.</summary>
    public void Item<T>(T item, string id, IEnumerable<(string Name, string? Value)> rows)
    {
        switch (Format)
        {
            case OutputFormat.Json:
                Env.Out.WriteLine(JsonSerializer.Serialize(item, Indented));
                break;
            case OutputFormat.Id:
                Env.Out.WriteLine(id);
                break;
            default:
                var grid = new Grid().AddColumn(new GridColumn().NoWrap()).AddColumn();
                foreach (var (name, value) in rows)
                {
                    grid.AddRow(new Markup($"[bold]{Markup.Escape(name)}[/]"), new Text(value ?? "-"));
                }
                Console.Write(grid);
                break;
        }
    }

    /// <summary>A list: a JSON array, ids, or a table with <paramref name="columns"/>.</summary>
    public void List<T>(IReadOnlyList<T> items, Func<T, string> id, string[] columns, Func<T, string?[]> row, string? footer = null)
    {
        switch (Format)
        {
            case OutputFormat.Json:
                Env.Out.WriteLine(JsonSerializer.Serialize(items, Indented));
                break;
            case OutputFormat.Id:
                foreach (var i in items)
                {
                    Env.Out.WriteLine(id(i));
                }
                break;
            default:
                if (items.Count == 0)
                {
                    Console.MarkupLine("[grey]nothing found[/]");
                }
                else
                {
                    var table = new Table().Border(TableBorder.Simple);
                    foreach (var c in columns)
                    {
                        var column = new TableColumn(new Markup($"[bold]{Markup.Escape(c)}[/]"));
                        // Ids are copied and pasted: never wrapped.
                        table.AddColumn(c == "ID" ? column.NoWrap() : column);
                    }
                    foreach (var i in items)
                    {
                        table.AddRow(row(i).Select(v => (IRenderable)new Text(v ?? "-")).ToArray());
                    }
                    Console.Write(table);
                }
                if (footer is not null)
                {
                    Console.MarkupLine($"[grey]{Markup.Escape(footer)}[/]");
                }
                break;
        }
    }

    /// <summary>A note for people (table format only; nothing in json/id formats).</summary>
    public void Note(string text)
    {
        if (Format == OutputFormat.Table)
        {
            Console.MarkupLine($"[grey]{Markup.Escape(text)}[/]");
        }
    }

    public static string Time(DateTimeOffset? t) => t is { } v ? v.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture) : "-";

    public static string Duration(TimeSpan d) => d.TotalHours >= 1
        ? $"{(int)d.TotalHours}:{d.Minutes:00}:{d.Seconds:00}"
        : $"{d.Minutes:00}:{d.Seconds:00}";

    public static string Bytes(long? n) => n switch
    {
        null => "-",
        < 1024 => $"{n} B",
        < 1024 * 1024 => $"{n / 1024.0:0.0} KB",
        < 1024L * 1024 * 1024 => $"{n / (1024.0 * 1024):0.0} MB",
        _ => $"{n / (1024.0 * 1024 * 1024):0.00} GB",
    };
}
