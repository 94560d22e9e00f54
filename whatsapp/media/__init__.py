"""Media (SPEC M): the files messages carry — where a received file is fetched from, how files
are kept in the one storage, served and retained."""
