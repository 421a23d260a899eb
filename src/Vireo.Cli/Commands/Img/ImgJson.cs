using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Vireo.Cli.Commands.Img;

/// <summary>
/// JSON as qemu-img prints it: four-space indentation and no escaping beyond what JSON needs, so scripts that
/// grep or diff qemu-img's output see the same text. Key order is the caller's (qemu's QDict bucket order).
/// </summary>
internal static class ImgJson
{
    private static readonly JsonWriterOptions Options = new()
    {
        Indented = true,
        IndentSize = 4,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static void Write(TextWriter w, Action<Utf8JsonWriter> build)
    {
        using var ms = new MemoryStream();
        using (var jw = new Utf8JsonWriter(ms, Options))
        {
            build(jw);
        }

        w.WriteLine(Encoding.UTF8.GetString(ms.ToArray()));
    }
}
