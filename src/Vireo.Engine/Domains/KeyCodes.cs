using System.Globalization;
using Vireo.Model;

namespace Vireo.Engine.Domains;

/// <summary>
/// send-key's keys as QMP KeyValues. QEMU's <c>number</c> is a "qnum": the XT set-1 scancode, with 0x80 added for
/// the 0xE0-prefixed keys. Linux keycodes below 89 are the XT codes themselves; the extended keys are mapped here.
/// A name that is not KEY_* is passed on as a QEMU qcode (<c>ctrl</c>, <c>alt</c>, <c>delete</c>).
/// </summary>
internal static class KeyCodes
{
    private static readonly Dictionary<string, int> LinuxNames = BuildNames();

    private static readonly Dictionary<int, int> LinuxExtended = new()
    {
        [96] = 0x9c, [97] = 0x9d, [98] = 0xb5, [99] = 0x54, [100] = 0xb8, [102] = 0xc7, [103] = 0xc8, [104] = 0xc9,
        [105] = 0xcb, [106] = 0xcd, [107] = 0xcf, [108] = 0xd0, [109] = 0xd1, [110] = 0xd2, [111] = 0xd3,
        [125] = 0xdb, [126] = 0xdc, [127] = 0xdd,
    };

    public static (string Type, string Value) Parse(string codeset, string key)
    {
        if (string.IsNullOrEmpty(key))
        {
            throw VireoException.Invalid("send-key: empty key");
        }

        bool numeric = TryNumber(key, out int n);
        switch (codeset)
        {
            case "linux":
                if (numeric)
                {
                    return ("number", Qnum(n, key).ToString(CultureInfo.InvariantCulture));
                }

                if (LinuxNames.TryGetValue(key.ToUpperInvariant(), out int code))
                {
                    return ("number", Qnum(code, key).ToString(CultureInfo.InvariantCulture));
                }

                if (key.StartsWith("KEY_", StringComparison.OrdinalIgnoreCase))
                {
                    throw VireoException.Invalid($"send-key: unknown key '{key}' in codeset linux");
                }

                return ("qcode", key.ToLowerInvariant());
            case "xt" or "atset1" or "qnum" or "xt_kbd":
                return numeric && n is > 0 and < 0x100
                    ? ("number", n.ToString(CultureInfo.InvariantCulture))
                    : throw VireoException.Invalid($"send-key: key '{key}' is not a scancode (1-255) for codeset {codeset}");
            default:
                throw VireoException.Unsupported($"send-key: codeset '{codeset}' is not supported (linux, xt, atset1, qnum)");
        }
    }

    private static int Qnum(int linux, string key)
    {
        if (linux is > 0 and < 89)
        {
            return linux;
        }

        return LinuxExtended.TryGetValue(linux, out int q) ? q : throw VireoException.Invalid($"send-key: linux keycode {key} has no mapping here");
    }

    private static bool TryNumber(string s, out int n) =>
        s.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? int.TryParse(s.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out n)
            : int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out n);

    private static Dictionary<string, int> BuildNames()
    {
        var d = new Dictionary<string, int>(StringComparer.Ordinal)
        {
            ["KEY_ESC"] = 1, ["KEY_MINUS"] = 12, ["KEY_EQUAL"] = 13, ["KEY_BACKSPACE"] = 14, ["KEY_TAB"] = 15,
            ["KEY_LEFTBRACE"] = 26, ["KEY_RIGHTBRACE"] = 27, ["KEY_ENTER"] = 28, ["KEY_LEFTCTRL"] = 29,
            ["KEY_SEMICOLON"] = 39, ["KEY_APOSTROPHE"] = 40, ["KEY_GRAVE"] = 41, ["KEY_LEFTSHIFT"] = 42, ["KEY_BACKSLASH"] = 43,
            ["KEY_COMMA"] = 51, ["KEY_DOT"] = 52, ["KEY_SLASH"] = 53, ["KEY_RIGHTSHIFT"] = 54, ["KEY_KPASTERISK"] = 55,
            ["KEY_LEFTALT"] = 56, ["KEY_SPACE"] = 57, ["KEY_CAPSLOCK"] = 58, ["KEY_F11"] = 87, ["KEY_F12"] = 88,
            ["KEY_RIGHTCTRL"] = 97, ["KEY_SYSRQ"] = 99, ["KEY_RIGHTALT"] = 100, ["KEY_HOME"] = 102, ["KEY_UP"] = 103,
            ["KEY_PAGEUP"] = 104, ["KEY_LEFT"] = 105, ["KEY_RIGHT"] = 106, ["KEY_END"] = 107, ["KEY_DOWN"] = 108,
            ["KEY_PAGEDOWN"] = 109, ["KEY_INSERT"] = 110, ["KEY_DELETE"] = 111, ["KEY_LEFTMETA"] = 125,
        };
        for (int i = 1; i <= 9; i++)
        {
            d["KEY_" + i] = i + 1;
        }

        d["KEY_0"] = 11;
        for (int i = 1; i <= 10; i++)
        {
            d["KEY_F" + i] = 58 + i;
        }

        string rows = "QWERTYUIOP";
        for (int i = 0; i < rows.Length; i++)
        {
            d["KEY_" + rows[i]] = 16 + i;
        }

        rows = "ASDFGHJKL";
        for (int i = 0; i < rows.Length; i++)
        {
            d["KEY_" + rows[i]] = 30 + i;
        }

        rows = "ZXCVBNM";
        for (int i = 0; i < rows.Length; i++)
        {
            d["KEY_" + rows[i]] = 44 + i;
        }

        return d;
    }
}
