using Hunch.Gguf;

namespace Hunch.Training;

/// <summary>Resumable training state (parameters, AdamW moments, step) in a small GGUF file.</summary>
internal static class Checkpoint
{
    public static void Save(string path, DraftHeads heads, AdamW adam, long step)
    {
        var w = new GgufWriter();
        w.SetMetadata("general.architecture", "hunch-checkpoint");
        w.SetMetadata("hunch.checkpoint.step", (ulong)step);
        w.SetMetadata("hunch.checkpoint.adam_t", (ulong)adam.T);
        w.SetMetadata("hunch.checkpoint.heads", (uint)heads.HeadCount);
        w.SetMetadata("hunch.checkpoint.hidden", (uint)heads.Hidden);
        w.SetMetadata("hunch.checkpoint.variant", heads.Variant.ToString());
        for (int k = 0; k < heads.HeadCount; k++)
        {
            Add(w, $"w.{k}", heads.Weights[k]); Add(w, $"b.{k}", heads.Biases[k]);
            Add(w, $"mw.{k}", adam.M[k]); Add(w, $"vw.{k}", adam.V[k]);
            Add(w, $"mb.{k}", adam.M[heads.HeadCount + k]); Add(w, $"vb.{k}", adam.V[heads.HeadCount + k]);
        }
        w.Write(path + ".tmp");
        File.Move(path + ".tmp", path, overwrite: true);
    }

    public static long Load(string path, DraftHeads heads, AdamW adam)
    {
        using var f = GgufFile.Open(path);
        if (f.GetInt("hunch.checkpoint.heads", -1) != heads.HeadCount || f.GetInt("hunch.checkpoint.hidden", -1) != heads.Hidden
            || f.GetString("hunch.checkpoint.variant") != heads.Variant.ToString())
            throw new GgufException("the checkpoint belongs to a different head configuration; delete it or change the options", -1, path);
        adam.T = f.GetInt("hunch.checkpoint.adam_t", 0);
        for (int k = 0; k < heads.HeadCount; k++)
        {
            Read(f, $"w.{k}", heads.Weights[k]); Read(f, $"b.{k}", heads.Biases[k]);
            Read(f, $"mw.{k}", adam.M[k]); Read(f, $"vw.{k}", adam.V[k]);
            Read(f, $"mb.{k}", adam.M[heads.HeadCount + k]); Read(f, $"vb.{k}", adam.V[heads.HeadCount + k]);
        }
        return f.GetInt("hunch.checkpoint.step", 0);
    }

    /// <summary>Saves a Kangaroo adapter's parameters, AdamW moments and step.</summary>
    public static void Save(string path, KangarooAdapter adapter, AdamW adam, long step)
    {
        var w = new GgufWriter();
        w.SetMetadata("general.architecture", "hunch-checkpoint");
        w.SetMetadata("hunch.checkpoint.kind", "adapter");
        w.SetMetadata("hunch.checkpoint.step", (ulong)step);
        w.SetMetadata("hunch.checkpoint.adam_t", (ulong)adam.T);
        w.SetMetadata("hunch.checkpoint.hidden", (uint)adapter.Hidden);
        w.SetMetadata("hunch.checkpoint.layer", (uint)adapter.Layer);
        for (int i = 0; i < adapter.Parameters.Length; i++)
        {
            Add(w, $"p.{i}", adapter.Parameters[i]); Add(w, $"m.{i}", adam.M[i]); Add(w, $"v.{i}", adam.V[i]);
        }
        w.Write(path + ".tmp");
        File.Move(path + ".tmp", path, overwrite: true);
    }

    /// <summary>Restores what <see cref="Save(string, KangarooAdapter, AdamW, long)"/> wrote; returns the step.</summary>
    public static long Load(string path, KangarooAdapter adapter, AdamW adam)
    {
        using var f = GgufFile.Open(path);
        if (f.GetString("hunch.checkpoint.kind") != "adapter" || f.GetInt("hunch.checkpoint.hidden", -1) != adapter.Hidden
            || f.GetInt("hunch.checkpoint.layer", -1) != adapter.Layer)
            throw new GgufException("the checkpoint belongs to a different adapter configuration; delete it or change the options", -1, path);
        adam.T = f.GetInt("hunch.checkpoint.adam_t", 0);
        for (int i = 0; i < adapter.Parameters.Length; i++)
        {
            Read(f, $"p.{i}", adapter.Parameters[i]); Read(f, $"m.{i}", adam.M[i]); Read(f, $"v.{i}", adam.V[i]);
        }
        return f.GetInt("hunch.checkpoint.step", 0);
    }

    static void Add(GgufWriter w, string name, float[] data) =>
        w.AddTensor(name, GgmlType.F32, [data.Length], System.Runtime.InteropServices.MemoryMarshal.AsBytes(data.AsSpan()).ToArray());

    static void Read(GgufFile f, string name, float[] destination)
    {
        var t = f.GetTensor(name);
        if (t.Type != GgmlType.F32 || t.ElementCount != destination.Length) throw new GgufException("checkpoint tensor has the wrong shape", t.FileOffset, name);
        System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(f.GetTensorBytes(t)).CopyTo(destination);
    }
}
