"""latentedit.train"""
