using Hunch.Gguf;

namespace Hunch.Kernels;

/// <summary>A read-only view of a row-major weight matrix stored in some <see cref="GgmlType"/>:
/// <see cref="Rows"/> rows of <see cref="Columns"/> elements, each row <see cref="RowBytes"/> bytes long.</summary>
public readonly unsafe struct WeightMatrix
{
    /// <summary>Element type of the stored rows.</summary>
    public readonly GgmlType Type;
    /// <summary>Pointer to row 0.</summary>
    public readonly byte* Data;
    /// <summary>Number of rows (outputs of a matrix-vector product).</summary>
    public readonly int Rows;
    /// <summary>Row length in elements (inputs of a matrix-vector product).</summary>
    public readonly int Columns;
    /// <summary>Bytes per row.</summary>
    public readonly long RowBytes;

    /// <summary>Creates a view; throws if the type is not supported by the kernels.</summary>
    public WeightMatrix(GgmlType type, byte* data, int rows, int columns)
    {
        if (!RowKernels.Supports(type)) throw new NotSupportedException($"weight type {type} is not supported for matrix products");
        Type = type;
        Data = data;
        Rows = rows;
        Columns = columns;
        RowBytes = GgmlTypeInfo.RowBytes(type, columns);
    }

    /// <summary>Pointer to row <paramref name="row"/>.</summary>
    public byte* Row(int row) => Data + row * RowBytes;

    /// <summary>Decodes one row to floats.</summary>
    public void DequantizeRow(int row, Span<float> destination)
    {
        fixed (float* d = destination) RowKernels.DequantizeRow(Type, Row(row), d, Columns);
    }
}
