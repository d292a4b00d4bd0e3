print("resnet-tui")
