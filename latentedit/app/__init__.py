"""latentedit.app"""
