using Vireo.Model;

namespace Vireo.Cli;

/// <summary>
/// virsh's argument grammar: positionals, <c>--switch</c>, <c>--opt VALUE</c> and <c>--opt=VALUE</c>.
/// A flag the command does not declare is an error, as in virsh.
/// </summary>
internal sealed class ParsedArgs
{
    private readonly Dictionary<string, List<string>> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _switches = new(StringComparer.Ordinal);

    public List<string> Positionals { get; } = [];

    public static ParsedArgs Parse(CommandSpec spec, IReadOnlyList<string> args)
    {
        var parsed = new ParsedArgs();
        bool onlyPositionals = false;
        for (int i = 0; i < args.Count; i++)
        {
            string a = args[i];
            if (onlyPositionals || a.Length < 3 || !a.StartsWith("--", StringComparison.Ordinal))
            {
                if (a == "--")
                {
                    onlyPositionals = true;
                    continue;
                }

                parsed.Positionals.Add(a);
                continue;
            }

            string name = a[2..];
            string? inline = null;
            int eq = name.IndexOf('=', StringComparison.Ordinal);
            if (eq >= 0)
            {
                inline = name[(eq + 1)..];
                name = name[..eq];
            }

            OptionSpec? opt = spec.Options.FirstOrDefault(o => o.Name == name)
                ?? throw VireoException.Invalid($"command '{spec.Name}' doesn't support option --{name}");
            if (opt.TakesValue)
            {
                if (inline is null)
                {
                    if (i + 1 >= args.Count)
                    {
                        throw VireoException.Invalid($"option --{name} of command '{spec.Name}' needs a value ({opt.Value})");
                    }

                    inline = args[++i];
                }

                if (!parsed._values.TryGetValue(name, out var list))
                {
                    parsed._values[name] = list = [];
                }

                list.Add(inline);
            }
            else
            {
                if (inline is not null)
                {
                    throw VireoException.Invalid($"option --{name} of command '{spec.Name}' takes no value");
                }

                parsed._switches.Add(name);
            }
        }

        return parsed;
    }

    public bool Has(string name) => _switches.Contains(name) || _values.ContainsKey(name);

    public string? Value(string name) => _values.TryGetValue(name, out var l) ? l[^1] : null;

    public IReadOnlyList<string> Values(string name) => _values.TryGetValue(name, out var l) ? l : [];

    /// <summary>The value of a flag, or the next unused positional, as virsh allows for its main arguments.</summary>
    public string Required(string name, ref int position, string what)
    {
        string? v = Value(name);
        if (v is not null)
        {
            return v;
        }

        if (position < Positionals.Count)
        {
            return Positionals[position++];
        }

        throw VireoException.Invalid($"missing required argument {what}");
    }

    public string? Optional(string name, ref int position)
    {
        string? v = Value(name);
        if (v is not null)
        {
            return v;
        }

        return position < Positionals.Count ? Positionals[position++] : null;
    }

    public void NoMorePositionals(int position, string command)
    {
        if (position < Positionals.Count)
        {
            throw VireoException.Invalid($"command '{command}' got an unexpected argument '{Positionals[position]}'");
        }
    }
}
