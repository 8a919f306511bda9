from gardenos.cli.main import main

main()
