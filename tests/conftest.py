pytest_plugins = ["fixtures.database", "fixtures.simulator", "fixtures.cli", "fixtures.file_checks"]
