using Capstan.Contracts;

namespace Capstan.Server.Domain;

/// <summary>decisions.md paging: <c>page_no</c> 1-based (default 1), <c>per_page</c> default 20, max 100;
/// offsets 1-based and inclusive, both 0 for an empty page.</summary>
public readonly record struct PageRequest(int PageNo, int PerPage)
{
    public const int DefaultPerPage = 20;
    public const int MaxPerPage = 100;

    public int Skip => (PageNo - 1) * PerPage;

    public Paging PagingFor(long totalCount, int returned) =>
        returned == 0 ? new Paging(totalCount, 0, 0) : new Paging(totalCount, Skip + 1, Skip + returned);
}
