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

    /// <summary>
    /// Wraps a CLR value with the GGUF type it maps to: <c>byte</c> UInt8, <c>sbyte</c> Int8, <c>ushort</c> UInt16,
    /// <c>short</c> Int16, <c>uint</c> UInt32, <c>int</c> Int32, <c>float</c> Float32, <c>bool</c> Bool,
    /// <c>string</c> String, <c>ulong</c> UInt64, <c>long</c> Int64, <c>double</c> Float64; arrays of those become
    /// arrays of that element type, and a <c>GgufValue[]</c> of arrays becomes an array of arrays.
    /// </summary>
    /// <exception cref="ArgumentException">The value's CLR type has no GGUF counterpart.</exception>
    public static GgufValue From(object value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value is GgufValue[] nested)
        {
            foreach (var n in nested)
                if (n is null || n.Type != GgufValueType.Array)
                    throw new ArgumentException("an array of arrays may only hold array values", nameof(value));
            return new GgufValue(GgufValueType.Array, nested, GgufValueType.Array);
        }
        if (value is Array a)
        {
            var elem = ScalarType(a.GetType().GetElementType()!)
                ?? throw new ArgumentException($"arrays of {a.GetType().GetElementType()!.Name} cannot be stored in GGUF", nameof(value));
            return new GgufValue(GgufValueType.Array, value, elem);
        }
        var t = ScalarType(value.GetType()) ?? throw new ArgumentException($"{value.GetType().Name} cannot be stored in GGUF", nameof(value));
        return new GgufValue(t, value);
    }

    /// <summary>The GGUF type a CLR scalar type maps to, or null.</summary>
    internal static GgufValueType? ScalarType(Type t) =>
        t == typeof(byte) ? GgufValueType.UInt8 :
        t == typeof(sbyte) ? GgufValueType.Int8 :
        t == typeof(ushort) ? GgufValueType.UInt16 :
        t == typeof(short) ? GgufValueType.Int16 :
        t == typeof(uint) ? GgufValueType.UInt32 :
        t == typeof(int) ? GgufValueType.Int32 :
        t == typeof(float) ? GgufValueType.Float32 :
        t == typeof(bool) ? GgufValueType.Bool :
        t == typeof(string) ? GgufValueType.String :
        t == typeof(ulong) ? GgufValueType.UInt64 :
        t == typeof(long) ? GgufValueType.Int64 :
        t == typeof(double) ? GgufValueType.Float64 :
        null;

    /// <summary>True when <see cref="Value"/> holds the CLR type <see cref="Type"/> (and element type) promise.</summary>
    internal bool IsConsistent()
    {
        if (Type != GgufValueType.Array) return ScalarType(Value.GetType()) == Type;
        if (ElementType == GgufValueType.Array)
        {
            if (Value is not GgufValue[] items) return false;
            foreach (var i in items) if (i is null || i.Type != GgufValueType.Array || !i.IsConsistent()) return false;
            return true;
        }
        return Value is Array a && a.GetType().GetElementType() is { } et && ScalarType(et) == ElementType;
    }

    /// <summary>Byte offset of the value's type field in the file it was read from (-1 for values built in memory).</summary>
    public long Offset { get; init; } = -1;

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

    /// <summary>The type as a phrase for messages, e.g. <c>Array of UInt8</c>.</summary>
    public string TypeName => Type == GgufValueType.Array ? $"Array of {ElementType}" : Type.ToString();

    /// <inheritdoc/>
    public override string ToString() => Value switch
    {
        string s => s,
        Array a => $"[{ElementType} x {a.Length}]",
        _ => Convert.ToString(Value, System.Globalization.CultureInfo.InvariantCulture) ?? "",
    };
}
