using System.Text.RegularExpressions;

namespace Capstan.Client.Tests.Infrastructure;

/// <summary>The repository's README.md and its marked example blocks.</summary>
public static class Readme
{
    public static string Text => File.ReadAllText(Path.Combine(CliRunner.RepoRoot, "README.md"));

    /// <summary>The fenced block between <c>&lt;!-- name:start</c> and <c>&lt;!-- name:end --&gt;</c>.</summary>
    public static string Block(string name)
    {
        var m = Regex.Match(Text, $@"<!-- {name}:start[^\n]*-->\n```\w+\n(.*?)```\n<!-- {name}:end -->", RegexOptions.Singleline);
        Assert.True(m.Success, $"README.md has no {name} block");
        return m.Groups[1].Value;
    }
}
