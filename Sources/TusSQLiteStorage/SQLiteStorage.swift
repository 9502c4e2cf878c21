import CTusSQLite
