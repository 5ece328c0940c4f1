namespace Hunch.Gguf;

/// <summary>A GGUF file is malformed, truncated, hostile or uses something this reader does not support.</summary>
/// <remarks>The message names the byte offset and, where known, the metadata key or tensor involved.</remarks>
public sealed class GgufException : Exception
{
    /// <summary>Byte offset in the file where the problem was found (-1 when not tied to one place).</summary>
    public long Offset { get; }

    /// <summary>The metadata key or tensor name involved, when known.</summary>
    public string? Item { get; }

    /// <summary>Creates the exception.</summary>
    public GgufException(string message, long offset = -1, string? item = null, Exception? inner = null)
        : base(Format(message, offset, item), inner)
    {
        Offset = offset;
        Item = item;
    }

    static string Format(string message, long offset, string? item)
    {
        var where = offset >= 0 ? $" at byte {offset}" : "";
        var what = item is null ? "" : $" ({item})";
        return $"GGUF: {message}{what}{where}";
    }
}
