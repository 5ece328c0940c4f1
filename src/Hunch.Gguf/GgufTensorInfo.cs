namespace Hunch.Gguf;

/// <summary>Describes one tensor of a GGUF file. <see cref="Dimensions"/> are in ggml order:
/// element 0 is the fastest-varying (a matrix of n rows of length k has dimensions [k, n]).</summary>
public sealed class GgufTensorInfo
{
    /// <summary>Tensor name, e.g. <c>blk.0.attn_q.weight</c>.</summary>
    public required string Name { get; init; }

    /// <summary>Element type.</summary>
    public required GgmlType Type { get; init; }

    /// <summary>Dimensions, fastest-varying first.</summary>
    public required long[] Dimensions { get; init; }

    /// <summary>Offset of the data relative to the start of the data section.</summary>
    public required long RelativeOffset { get; init; }

    /// <summary>Absolute offset of the data in the file.</summary>
    public required long FileOffset { get; init; }

    /// <summary>Size of the data in bytes.</summary>
    public required long ByteSize { get; init; }

    /// <summary>Total number of elements.</summary>
    public long ElementCount
    {
        get
        {
            long n = 1;
            foreach (var d in Dimensions) n *= d;
            return n;
        }
    }

    /// <summary>Row length (dimension 0).</summary>
    public long Columns => Dimensions.Length > 0 ? Dimensions[0] : 1;

    /// <summary>Number of rows (the product of the dimensions after the first).</summary>
    public long Rows => Dimensions.Length > 0 ? ElementCount / Dimensions[0] : 1;

    /// <inheritdoc/>
    public override string ToString() => $"{Name} {Type} [{string.Join(", ", Dimensions)}]";
}
