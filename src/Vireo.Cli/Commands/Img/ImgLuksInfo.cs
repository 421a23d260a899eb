using System.Text.Json;
using Vireo.Images;

namespace Vireo.Cli.Commands.Img;

/// <summary>
/// qemu-img info's LUKS block: <c>encrypt</c> inside a qcow2's format-specific data (with
/// <c>format: luks</c>), or the whole format-specific data of a raw luks image. Field order is qemu's.
/// </summary>
internal static class ImgLuksInfo
{
    public static void WriteJson(Utf8JsonWriter w, LuksInfo l, bool withFormat)
    {
        w.WriteString("ivgen-alg", l.IvgenAlg);
        w.WriteString("hash-alg", l.HashAlg);
        w.WriteString("cipher-alg", l.CipherAlg);
        w.WriteString("uuid", l.Uuid);
        if (l.IvgenHashAlg is not null)
        {
            w.WriteString("ivgen-hash-alg", l.IvgenHashAlg);
        }

        if (withFormat)
        {
            w.WriteString("format", "luks");
        }

        w.WriteString("cipher-mode", l.CipherMode);
        w.WriteStartArray("slots");
        foreach (var s in l.Slots)
        {
            w.WriteStartObject();
            w.WriteBoolean("active", s.Active);
            if (s.Iterations is { } it)
            {
                w.WriteNumber("iters", it);
            }

            w.WriteNumber("key-offset", s.KeyOffset);
            if (s.Stripes is { } st)
            {
                w.WriteNumber("stripes", st);
            }

            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteNumber("payload-offset", l.PayloadOffset);
        w.WriteNumber("master-key-iters", l.MasterKeyIterations);
    }

    public static void WriteHuman(TextWriter o, LuksInfo l, string indent, bool withFormat)
    {
        o.WriteLine($"{indent}ivgen alg: {l.IvgenAlg}");
        o.WriteLine($"{indent}hash alg: {l.HashAlg}");
        o.WriteLine($"{indent}cipher alg: {l.CipherAlg}");
        o.WriteLine($"{indent}uuid: {l.Uuid}");
        if (l.IvgenHashAlg is not null)
        {
            o.WriteLine($"{indent}ivgen hash alg: {l.IvgenHashAlg}");
        }

        if (withFormat)
        {
            o.WriteLine($"{indent}format: luks");
        }

        o.WriteLine($"{indent}cipher mode: {l.CipherMode}");
        o.WriteLine($"{indent}slots:");
        for (int i = 0; i < l.Slots.Count; i++)
        {
            var s = l.Slots[i];
            o.WriteLine($"{indent}    [{i}]:");
            o.WriteLine($"{indent}        active: {(s.Active ? "true" : "false")}");
            if (s.Iterations is { } it)
            {
                o.WriteLine($"{indent}        iters: {it}");
            }

            o.WriteLine($"{indent}        key offset: {s.KeyOffset}");
            if (s.Stripes is { } st)
            {
                o.WriteLine($"{indent}        stripes: {st}");
            }
        }

        o.WriteLine($"{indent}payload offset: {l.PayloadOffset}");
        o.WriteLine($"{indent}master key iters: {l.MasterKeyIterations}");
    }
}
