namespace Hunch.Gguf;

/// <summary>Metadata value types as numbered in GGUF.</summary>
public enum GgufValueType : uint
{
#pragma warning disable CS1591
    UInt8 = 0, Int8 = 1, UInt16 = 2, Int16 = 3, UInt32 = 4, Int32 = 5, Float32 = 6, Bool = 7,
    String = 8, Array = 9, UInt64 = 10, Int64 = 11, Float64 = 12,
#pragma warning restore CS1591
}

/// <summary>One metadata value. Scalars are boxed as their CLR type; arrays of scalars are typed CLR arrays
/// (<c>string[]</c>, <c>float[]</c>, <c>int[]</c>, ...); arrays of arrays are <c>GgufValue[]</c>.</summary>
public sealed class GgufValue
{
    /// <summary>The value's GGUF type.</summary>
    public GgufValueType Type { get; }

    /// <summary>For arrays, the element type; otherwise equal to <see cref="Type"/>.</summary>
    public GgufValueType ElementType { get; }

    /// <summary>The value (see the class remarks for the CLR types used).</summary>
    public object Value { get; }

    /// <summary>Creates a value.</summary>
    public GgufValue(GgufValueType type, object value, GgufValueType elementType)
    {
        Type = type;
        Value = value;
        ElementType = type == GgufValueType.Array ? elementType : type;
    }

    /// <summary>Creates a scalar or string value.</summary>
    public GgufValue(GgufValueType type, object value) : this(type, value, type) { }

    /// <summary>Number of elements when this is an array, otherwise 1.</summary>
    public int Count => Value is Array a ? a.Length : 1;

    /// <summary>The value as a 64-bit signed integer when it is any integer type.</summary>
    public bool TryGetInt64(out long v)
    {
        switch (Value)
        {
            case byte x: v = x; return true;
            case sbyte x: v = x; return true;
            case ushort x: v = x; return true;
            case short x: v = x; return true;
            case uint x: v = x; return true;
            case int x: v = x; return true;
            case long x: v = x; return true;
            case ulong x when x <= long.MaxValue: v = (long)x; return true;
            default: v = 0; return false;
        }
    }

    /// <summary>The value as a double when it is any number.</summary>
    public bool TryGetDouble(out double v)
    {
        if (Value is float f) { v = f; return true; }
        if (Value is double d) { v = d; return true; }
        if (TryGetInt64(out var l)) { v = l; return true; }
        v = 0; return false;
    }

    /// <inheritdoc/>
    public override string ToString() => Value switch
    {
        string s => s,
        Array a => $"[{ElementType} x {a.Length}]",
        _ => Convert.ToString(Value, System.Globalization.CultureInfo.InvariantCulture) ?? "",
    };
}
