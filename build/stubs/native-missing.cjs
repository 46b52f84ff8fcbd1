// Stands in for an optional native addon. Its callers require it inside try/catch and fall back to JavaScript.
throw new Error('native addon disabled in Silmaril builds');
