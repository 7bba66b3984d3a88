using System.Collections;

namespace Capstan.Client;

/// <summary>The paging block of a list: 1-based inclusive offsets (both 0 for an empty page) and the number of
/// all matches.</summary>
/// <param name="TotalCount">All items that match the filter.</param>
/// <param name="StartOffset">1-based position of the first item of this page (0 when empty).</param>
/// <param name="EndOffset">1-based position of the last item of this page (0 when empty).</param>
public sealed record Paging(long TotalCount, long StartOffset, long EndOffset);

/// <summary>One page of a list. Enumerates its items; <see cref="HasMore"/> says whether another page follows.</summary>
/// <typeparam name="T">The item type.</typeparam>
public sealed class Page<T> : IReadOnlyList<T>
{
    internal Page(IReadOnlyList<T> data, Paging paging, int pageNo, int perPage)
    {
        Data = data;
        Paging = paging;
        PageNo = pageNo;
        PerPage = perPage;
    }

    /// <summary>The items of this page.</summary>
    public IReadOnlyList<T> Data { get; }

    /// <summary>The paging block as the server sent it.</summary>
    public Paging Paging { get; }

    /// <summary>The page number that was asked for (1-based).</summary>
    public int PageNo { get; }

    /// <summary>The page size that was asked for (0: the server's default).</summary>
    public int PerPage { get; }

    /// <summary>True when items follow this page.</summary>
    public bool HasMore => Data.Count > 0 && Paging.EndOffset < Paging.TotalCount;

    /// <inheritdoc />
    public int Count => Data.Count;

    /// <inheritdoc />
    public T this[int index] => Data[index];

    /// <inheritdoc />
    public IEnumerator<T> GetEnumerator() => Data.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>Base of the options of a paged list.</summary>
public abstract class ListOptions
{
    /// <summary>The page to read, 1-based (default 1).</summary>
    public int? PageNo { get; set; }

    /// <summary>Items per page (server default 20, at most 100).</summary>
    public int? PerPage { get; set; }

    internal Query ToQuery(int? pageNo = null) => AddFilters(new Query().Add("page_no", pageNo ?? PageNo).Add("per_page", PerPage));

    /// <summary>Adds the list's own filters.</summary>
    internal virtual Query AddFilters(Query query) => query;
}

internal static class AutoPager
{
    /// <summary>Reads page after page until one says nothing follows.</summary>
    public static async IAsyncEnumerable<T> AllAsync<T>(Func<int, CancellationToken, Task<Page<T>>> page, int firstPage,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        for (var n = Math.Max(1, firstPage); ; n++)
        {
            var p = await page(n, ct).ConfigureAwait(false);
            foreach (var item in p.Data)
            {
                yield return item;
            }
            if (!p.HasMore)
            {
                yield break;
            }
        }
    }
}
