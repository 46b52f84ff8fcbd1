// placeholder: the `silmaril` command
console.error('silmaril: not implemented yet');
process.exit(2);
