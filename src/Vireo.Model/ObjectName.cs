namespace Vireo.Model;

/// <summary>
/// Names of domains, networks, pools and volumes become file names under the state root, so they must be a
/// single, harmless path component.
/// </summary>
public static class ObjectName
{
    public const int MaxLength = 200;

    /// <summary>Throws a <see cref="VireoException"/> naming <paramref name="what"/> when the name is unusable.</summary>
    public static string Validate(string? name, string what)
    {
        if (string.IsNullOrEmpty(name))
        {
            throw VireoException.Invalid($"{what} name must not be empty");
        }

        if (name.Length > MaxLength)
        {
            throw VireoException.Invalid($"{what} name '{name[..32]}...' is longer than {MaxLength} characters");
        }

        if (name is "." or "..")
        {
            throw VireoException.Invalid($"{what} name '{name}' is not allowed");
        }

        foreach (char c in name)
        {
            if (c == '/' || c == '\0' || char.IsControl(c))
            {
                throw VireoException.Invalid($"{what} name '{Printable(name)}' must not contain '/', NUL or control characters");
            }
        }

        if (name[0] == '-')
        {
            throw VireoException.Invalid($"{what} name '{name}' must not start with '-'");
        }

        return name;
    }

    private static string Printable(string s) =>
        string.Concat(s.Select(c => char.IsControl(c) ? $"\\x{(int)c:x2}" : c.ToString()));
}
