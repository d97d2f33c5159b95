from swarmsh.shipper.main import main

main()
