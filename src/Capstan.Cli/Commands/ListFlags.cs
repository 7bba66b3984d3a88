using System.CommandLine;
using Capstan.Client;

namespace Capstan.Cli.Commands;

/// <summary><c>--page</c>, <c>--per-page</c> and <c>--all</c> of list commands.</summary>
internal sealed class ListFlags
{
    public Option<int?> Page { get; } = new("--page") { Description = "Page number, from 1" };

    public Option<int?> PerPage { get; } = new("--per-page") { Description = "Items per page (default 20, at most 100)" };

    public Option<bool> All { get; } = new("--all") { Description = "Every page (follows the paging)" };

    public void AddTo(Command c)
    {
        c.Add(Page);
        c.Add(PerPage);
        c.Add(All);
    }

    public void Apply(ParseResult parse, ListOptions options)
    {
        options.PageNo = parse.GetValue(Page);
        options.PerPage = parse.GetValue(PerPage);
    }

    /// <summary>The page asked for, or every page with <c>--all</c>; the footer says where the list stands.</summary>
    public async Task<(IReadOnlyList<T> Items, string Footer)> ReadAsync<T>(ParseResult parse, Func<Task<Page<T>>> page, Func<IAsyncEnumerable<T>> all, CancellationToken ct)
    {
        if (parse.GetValue(All))
        {
            var items = new List<T>();
            await foreach (var i in all().WithCancellation(ct))
            {
                items.Add(i);
            }
            return (items, $"{items.Count} in all");
        }
        var p = await page();
        var footer = p.Paging.TotalCount == 0 ? "0 in all" : $"{p.Paging.StartOffset}-{p.Paging.EndOffset} of {p.Paging.TotalCount}" + (p.HasMore ? $" (next: --page {p.PageNo + 1}, or --all)" : string.Empty);
        return (p.Data, footer);
    }
}
