using System.Collections.Concurrent;
using Vireo.Images.Qcow2;

namespace Vireo.Images;

/// <summary>
/// convert -c: each window is compressed by a pool thread as soon as it is read, so both cores deflate
/// while the writer stores earlier windows in order. Compressed clusters of one L2 table are packed back
/// to back into fresh host clusters with one write.
/// </summary>
internal sealed partial class Converter
{
    private enum PackedKind : byte
    {
        Zero,
        Plain,
        Compressed,
    }

    /// <summary>A compressed window: per cluster its kind and, when compressed, its bytes in <see cref="Output"/>.</summary>
    private sealed class PackedChunk(byte[] output, PackedKind[] kinds, int[] offsets, int[] lengths)
    {
        public byte[] Output { get; } = output;

        public PackedKind[] Kinds { get; } = kinds;

        public int[] Offsets { get; } = offsets;

        public int[] Lengths { get; } = lengths;
    }

    // Output buffers of windows being compressed or written: one per window in flight (the input buffers
    // bound those), reused. ArrayPool.Shared would keep up to 8 per core of these 2 MiB arrays besides.
    private readonly ConcurrentStack<byte[]> _packOutputs = new();

    private PackedChunk Pack(Qcow2Image q, long offset, ReadOnlyMemory<byte> data)
    {
        int cs = q.ClusterSize;
        int n = (data.Length + cs - 1) / cs;
        var kinds = new PackedKind[n];
        var offsets = new int[n];
        var lengths = new int[n];
        var output = _packOutputs.TryPop(out var o) && o.Length >= n * cs ? o : new byte[Math.Max(n * cs, ChunkSize)];
        bool aligned = (offset & (cs - 1)) == 0;
        byte[]? padded = null;
        int outPos = 0;
        for (int i = 0; i < n; i++)
        {
            var src = data.Span.Slice(i * cs, Math.Min(cs, data.Length - (i * cs)));
            if (!src.ContainsAnyExcept((byte)0))
            {
                kinds[i] = PackedKind.Zero;
                continue;
            }

            // Only whole clusters compress; the last one of an image whose size is not a cluster multiple
            // is whole too, its tail past the end reading as zeroes.
            long guest = offset + ((long)i * cs);
            if (!aligned || (src.Length < cs && guest + src.Length != q.VirtualSize))
            {
                kinds[i] = PackedKind.Plain;
                continue;
            }

            if (src.Length < cs)
            {
                padded ??= new byte[cs];
                padded.AsSpan().Clear();
                src.CopyTo(padded);
                src = padded;
            }

            int len = ClusterCompression.Compress(q.Header.CompressionType, src, output.AsSpan(outPos, cs));
            if (len < 0)
            {
                kinds[i] = PackedKind.Plain;
                continue;
            }

            kinds[i] = PackedKind.Compressed;
            offsets[i] = outPos;
            lengths[i] = len;
            outPos += len;
        }

        return new PackedChunk(output, kinds, offsets, lengths);
    }

    private void WritePacked(Qcow2Image q, Chunk c, PackedChunk p)
    {
        try
        {
            int cs = q.ClusterSize;
            long perTable = 1L << (q.ClusterBits + q.L2Bits);
            var batch = new List<(int Index, ReadOnlyMemory<byte> Data)>();
            long batchBase = -1;
            for (int i = 0; i < p.Kinds.Length; i++)
            {
                long guest = c.Offset + ((long)i * cs);
                int visible = (int)Math.Min(Math.Min(cs, c.Length - ((long)i * cs)), q.VirtualSize - guest);
                switch (p.Kinds[i])
                {
                    case PackedKind.Zero:
                        if (!_targetZero || _newBacking is not null)
                        {
                            WriteZeroRangeAsync(guest, visible, default).AsTask().GetAwaiter().GetResult();
                        }

                        continue;
                    case PackedKind.Plain:
                        q.Write(guest, c.Data.Slice(i * cs, visible));
                        continue;
                }

                long tableBase = guest & ~(perTable - 1);
                if (batchBase != tableBase && batch.Count > 0)
                {
                    q.WriteCompressed(batchBase, batch);
                    batch.Clear();
                }

                batchBase = tableBase;
                batch.Add(((int)((guest - tableBase) / cs), p.Output.AsMemory(p.Offsets[i], p.Lengths[i])));
            }

            if (batch.Count > 0)
            {
                q.WriteCompressed(batchBase, batch);
            }
        }
        finally
        {
            _packOutputs.Push(p.Output);
        }
    }
}
