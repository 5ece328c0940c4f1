Console.WriteLine("hunch");
